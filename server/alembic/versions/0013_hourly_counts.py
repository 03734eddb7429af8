"""evaluation_hourly_counts: the hourly grain (hall, hall-local day and hour), backfilled

Revision ID: 0013
Revises: 0012
Create Date: 2027-03-01 00:00:00

The backfill takes each evaluation's hour in Asia/Shanghai, the default policy time zone: a
migration cannot see the policy. A server whose policy (and HALLRATE_TZ) names another zone runs
`hallrate db rebuild-aggregates` once after this upgrade; it recomputes every grain in the
configured zone (docs/adr/0023-hourly-grain.md). The day is the evaluation's stored local_day.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")
BACKFILL_TZ = "Asia/Shanghai"  # no daylight saving since 1991: UTC+8 on SQLite


def upgrade() -> None:
    op.create_table(
        "evaluation_hourly_counts",
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        *(sa.Column(f"n_{level}", sa.BigInteger(), nullable=False) for level in LEVELS),
        sa.PrimaryKeyConstraint(
            "hall_id",
            "day",
            "hour",
            "channel",
            "counted",
            name=op.f("pk_evaluation_hourly_counts"),
        ),
    )
    if op.get_bind().dialect.name == "sqlite":
        # occurred_at is stored as naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff"; the fraction
        # goes first (SQLite's date functions round it to milliseconds: 16:59:59.9999 -> 17:00).
        hour = "CAST(strftime('%H', substr(occurred_at, 1, 19), '+8 hours') AS INTEGER)"
    else:
        hour = f"CAST(EXTRACT(HOUR FROM occurred_at AT TIME ZONE '{BACKFILL_TZ}') AS INTEGER)"
    sums = ", ".join(f"SUM(CASE WHEN level = '{lv}' THEN 1 ELSE 0 END)" for lv in LEVELS)
    columns = ", ".join(f"n_{lv}" for lv in LEVELS)
    op.execute(
        "INSERT INTO evaluation_hourly_counts "
        f"(hall_id, day, hour, channel, counted, {columns}) "
        f"SELECT hall_id, local_day, {hour}, channel, counted, {sums} "
        f"FROM evaluations GROUP BY hall_id, local_day, {hour}, channel, counted"
    )


def downgrade() -> None:
    op.drop_table("evaluation_hourly_counts")
