"""device health: latest snapshot per device, history, alerts

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-20 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("alarm", sa.String(length=16), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_device_alerts_hall_id_halls"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_alerts")),
    )
    with op.batch_alter_table("device_alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_device_alerts_open", ["hall_id", "code", "cleared_at"], unique=False
        )

    op.create_table(
        "device_health",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("window", sa.String(length=16), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("fw", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("alarms", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_device_health_hall_id_halls"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_health")),
        sa.UniqueConstraint("hall_id", "code", name=op.f("uq_device_health_hall_id_code")),
    )
    with op.batch_alter_table("device_health", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_health_hall_id"), ["hall_id"], unique=False)

    op.create_table(
        "device_health_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_device_health_history_hall_id_halls"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_health_history")),
        sa.UniqueConstraint(
            "hall_id", "code", "at", name=op.f("uq_device_health_history_hall_id_code_at")
        ),
    )
    with op.batch_alter_table("device_health_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_health_history_hall_id"), ["hall_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("device_health_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_health_history_hall_id"))

    op.drop_table("device_health_history")
    with op.batch_alter_table("device_health", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_health_hall_id"))

    op.drop_table("device_health")
    with op.batch_alter_table("device_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_device_alerts_open")

    op.drop_table("device_alerts")
