"""evaluations.flags_reviewed: a review set the flags, so later revisions keep them

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-12 00:00:00

(0008, not 0007: the SMS channel's migration is 0007 on another branch; when both are merged,
this one follows it: set ``down_revision = "0007"``.)

Rows reviewed before this migration were promised that a review's flags stand, whatever the
review set: they start with ``flags_reviewed`` true.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evaluations") as batch:
        batch.add_column(
            sa.Column("flags_reviewed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    evaluations = sa.table(
        "evaluations", sa.column("flags_reviewed", sa.Boolean()), sa.column("reviewed_at")
    )
    op.execute(
        evaluations.update()
        .where(evaluations.c.reviewed_at.is_not(None))
        .values(flags_reviewed=sa.true())
    )


def downgrade() -> None:
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("flags_reviewed")
