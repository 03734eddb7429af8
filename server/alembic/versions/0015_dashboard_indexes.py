"""indexes for the dashboard calls that read raw rows (issue #19, docs/benchmarks.md)

Revision ID: 0015
Revises: 0014
Create Date: 2027-03-15 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (index name, columns)
_INDEXES: dict[str, list[tuple[str, list[str]]]] = {
    # GET /bad-ratings: count and page of a hall's counted 差评 in a period.
    "evaluations": [
        (
            "ix_evaluations_hall_level_day",
            ["hall_id", "level", "local_day", "counted", "occurred_at"],
        ),
    ],
    # GET /callbacks/stats: entry counts per worklist, state, reserve, disposition, overdue.
    "callback_entries": [
        (
            "ix_callback_entries_worklist_state",
            ["worklist_id", "state", "reserve", "disposition", "due_at"],
        ),
    ],
    # GET /cases/figures: a hall's cases opened or closed in a period.
    "cases": [
        ("ix_cases_hall_opened_day", ["hall_id", "opened_day"]),
        ("ix_cases_hall_closed_day", ["hall_id", "closed_day"]),
    ],
}


def upgrade() -> None:
    for table, indexes in _INDEXES.items():
        with op.batch_alter_table(table) as batch:
            for name, columns in indexes:
                batch.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, indexes in _INDEXES.items():
        with op.batch_alter_table(table) as batch:
            for name, _columns in indexes:
                batch.drop_index(name)
