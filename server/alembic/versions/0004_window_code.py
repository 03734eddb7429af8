"""window_code: the reported code of a window the hall does not have (flag unknown_window)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("evaluations", "tickets"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("window_code", sa.String(length=16), nullable=True))


def downgrade() -> None:
    for table in ("evaluations", "tickets"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("window_code")
