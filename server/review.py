"""Flag, exclude or un-flag a stored evaluation (申诉复核); the row stays, aggregates move, and
every review is kept in the append-only history (server/history.py)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.aggregates import Deltas
from server.history import add_changes, review_change
from server.ingest.records import with_window_flag
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
        "flags": ev.flags,
        "excluded": ev.excluded,
    }


def review(
    session: Session,
    ev: Evaluation,
    *,
    reason: str,
    by: str,
    excluded: bool | None = None,
    flags: list[str] | None = None,
    user_id: int | None = None,
) -> None:
    """Set the exclusion and/or replace the flags, recording who and why (on the row and in
    the history). The caller commits.

    The exclusion is the reviewer's from then on; so are the flags once a review has set them
    (``flags_reviewed``): later gateway revisions keep them (server/ingest/evaluations.py).
    ``unknown_window`` is no review's: it stays while the evaluation has an unknown window's
    code and cannot be added without one."""
    before = _snapshot(ev)
    if excluded is not None:
        ev.excluded = excluded
    if flags is not None:
        ev.flags = with_window_flag(",".join(flags), ev.window_code)
        ev.flags_reviewed = True
    ev.counted = not ev.flags and not ev.excluded
    now = utcnow()
    ev.review_reason = reason
    ev.reviewed_by = by
    ev.reviewed_at = ev.updated_at = now
    after = _snapshot(ev)
    deltas = Deltas()
    deltas.move(before, after)
    deltas.apply(session)
    session.flush()
    add_changes(
        session,
        [review_change(ev.id, before, after, reason=reason, by=by, user_id=user_id, at=now)],
    )
