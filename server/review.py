"""Flag, exclude or un-flag a stored evaluation (申诉复核); the row stays, aggregates move."""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.aggregates import Deltas
from server.models import Evaluation
from server.models.base import utcnow


def _snapshot(ev: Evaluation) -> dict[str, object]:
    return {
        "local_day": ev.local_day,
        "hall_id": ev.hall_id,
        "department_id": ev.department_id,
        "window_id": ev.window_id,
        "staff_id": ev.staff_id,
        "channel": ev.channel,
        "level": ev.level,
        "counted": ev.counted,
    }


def review(
    session: Session,
    ev: Evaluation,
    *,
    reason: str,
    by: str,
    excluded: bool | None = None,
    flags: list[str] | None = None,
) -> None:
    """Set the exclusion and/or replace the flags, recording who and why. The caller commits."""
    before = _snapshot(ev)
    if excluded is not None:
        ev.excluded = excluded
    if flags is not None:
        ev.flags = ",".join(sorted(set(flags)))
    ev.counted = not ev.flags and not ev.excluded
    ev.review_reason = reason
    ev.reviewed_by = by
    ev.reviewed_at = ev.updated_at = utcnow()
    deltas = Deltas()
    deltas.move(before, _snapshot(ev))
    deltas.apply(session)
