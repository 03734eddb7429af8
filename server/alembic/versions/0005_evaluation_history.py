"""evaluation_changes (append-only review history) and evaluations.gateway_id (the submitter)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evaluation_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("evaluation_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=8), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("gateway_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=512), nullable=True),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_evaluation_changes_evaluation_id_evaluations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_evaluation_changes_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["gateway_id"],
            ["gateways.id"],
            name=op.f("fk_evaluation_changes_gateway_id_gateways"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_changes")),
    )
    with op.batch_alter_table("evaluation_changes") as batch:
        batch.create_index(
            batch.f("ix_evaluation_changes_evaluation_id"), ["evaluation_id"], unique=False
        )
    with op.batch_alter_table("evaluations") as batch:
        batch.add_column(sa.Column("gateway_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_evaluations_gateway_id_gateways"),
            "gateways",
            ["gateway_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_constraint(batch.f("fk_evaluations_gateway_id_gateways"), type_="foreignkey")
        batch.drop_column("gateway_id")
    with op.batch_alter_table("evaluation_changes") as batch:
        batch.drop_index(batch.f("ix_evaluation_changes_evaluation_id"))
    op.drop_table("evaluation_changes")
