"""the export outbox to provincial 好差评 platforms (export_outbox)

Revision ID: 0014
Revises: 0013
Create Date: 2027-03-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "export_outbox",
        sa.Column("id", _ID, nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("evaluation_id", sa.BigInteger(), nullable=False),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        sa.Column("last_error", sa.String(length=512), nullable=True),
        sa.Column("platform_ref", sa.String(length=128), nullable=True),
        _when("accepted_at"),
        _when("sent_at"),
        _when("evaluation_updated_at", False),
        _when("created_at", False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_export_outbox_evaluation_id_evaluations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_outbox")),
        sa.UniqueConstraint(
            "target", "record_id", "seq", name=op.f("uq_export_outbox_target_record_id_seq")
        ),
    )
    with op.batch_alter_table("export_outbox") as batch:
        batch.create_index(
            "ix_export_outbox_target_state_next", ["target", "state", "next_attempt_at"]
        )
        batch.create_index("ix_export_outbox_evaluation", ["evaluation_id", "target"])


def downgrade() -> None:
    op.drop_table("export_outbox")
