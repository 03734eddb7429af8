"""a text carries its ticket's window (sms_messages.window_id, window_code)

The per-window SMS figures (GET /api/v1/sms/stats?by=window) read the texts alone instead of
joining every text to its ticket (docs/adr/0025-sms-window-copied.md). Existing texts take
their ticket's window here.

Revision ID: 0016
Revises: 0015
Create Date: 2027-03-20 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.add_column(
            sa.Column("window_id", sa.Integer(), sa.ForeignKey("windows.id"), nullable=True)
        )
        batch.add_column(sa.Column("window_code", sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE sms_messages SET "
        "window_id = (SELECT t.window_id FROM tickets t WHERE t.id = sms_messages.ticket_id), "
        "window_code = (SELECT t.window_code FROM tickets t WHERE t.id = sms_messages.ticket_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_column("window_code")
        batch.drop_column("window_id")
