"""online rating: evaluations' ticket day, 一次一评 link, late mark, comment and reasons;
refused online attempts

Revision ID: 0011
Revises: 0010
Create Date: 2027-02-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ticket_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of", _BIG, nullable=True))
        batch_op.add_column(
            sa.Column("late", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("comment", sa.String(length=500), nullable=True))
        batch_op.add_column(
            sa.Column("reasons", sa.String(length=256), server_default="", nullable=False)
        )
        batch_op.create_index(
            "ix_evaluations_ticket_slot", ["hall_id", "ticket_day", "ticket"], unique=False
        )
    # Existing ticketed ratings: the ticket day is the rating's own day (what the SMS channel
    # matched on before this revision).
    op.execute("UPDATE evaluations SET ticket_day = local_day WHERE ticket IS NOT NULL")
    op.create_table(
        "online_rejections",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=True),
        sa.Column("ticket", sa.String(length=32), nullable=True),
        sa.Column("ticket_day", sa.Date(), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_online_rejections_hall_id_halls"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_rejections")),
    )
    op.create_index("ix_online_rejections_at", "online_rejections", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_online_rejections_at", table_name="online_rejections")
    op.drop_table("online_rejections")
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluations_ticket_slot")
        batch_op.drop_column("reasons")
        batch_op.drop_column("comment")
        batch_op.drop_column("late")
        batch_op.drop_column("duplicate_of")
        batch_op.drop_column("ticket_day")
