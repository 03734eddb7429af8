"""directory version: invalidates ingest's code -> id cache

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 00:40:00
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "directory_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_version")),
    )
    # Start from the clock, not 0: a database dropped and built again under a running server
    # must not repeat a version that server has cached ids for.
    op.bulk_insert(table, [{"id": 1, "version": time.time_ns()}])


def downgrade() -> None:
    op.drop_table("directory_version")
