"""Flag, exclude or un-flag a stored evaluation (申诉复核); the row stays, aggregates move, and
every review is kept in the append-only history (server/history.py). A review of a rating of a
ticket resolves 一次一评 for the ticket again (server/ingest/slots.py): excluding or flagging
its counted rating makes the next candidate count, restoring one makes the precedence decide."""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.aggregates import Deltas
from server.history import add_changes, review_change
from server.ingest.records import with_window_flag
from server.ingest.slots import Slot, lock_slots, resolve_slots
from server.models import Evaluation
from server.models.base import utcnow
from server.online.one_rating import DUPLICATE
from server.online.policy import OneRatingPolicy
from server.periods import DEFAULT_TZ


def _snapshot(ev: Evaluation) -> dict[str, object]:
    return {
        "local_day": ev.local_day,
        "occurred_at": ev.occurred_at,  # the hourly grain's hour
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
    one_rating: OneRatingPolicy | None = None,
    became_counted: set[int] | None = None,
    tz: str = DEFAULT_TZ,
) -> None:
    """Set the exclusion and/or replace the flags, recording who and why (on the row and in
    the history). The caller commits.

    The exclusion is the reviewer's from then on; so are the flags once a review has set them
    (``flags_reviewed``): later gateway revisions keep them (server/ingest/evaluations.py).
    ``unknown_window`` is no review's: it stays while the evaluation has an unknown window's
    code and cannot be added without one. Nor is 一次一评's ``duplicate_ticket`` on a rating
    that lost (``duplicate_of`` set): it stays while the rating loses, whatever the review's
    flags say about it (docs/scoring.md "One rating per ticket"). ``became_counted`` collects
    the ids of other ratings of the ticket that count after the resolution and did not before
    (server/cases/autoopen.py opens the case of a 差评 among them). ``tz``: the policy time
    zone (the hourly grain's hours, server/aggregates.py)."""
    slot: Slot | None = None
    if ev.ticket is not None and ev.ticket_day is not None:
        slot = (ev.hall_id, ev.ticket_day, ev.ticket)
        lock_slots(session, [slot])
        session.refresh(ev)  # as the slot's last writer left it
    before = _snapshot(ev)
    if excluded is not None:
        ev.excluded = excluded
    if flags is not None:
        own = set(flags) - {DUPLICATE} if ev.duplicate_of is not None else set(flags)
        if ev.duplicate_of is not None and not own - {""}:
            own = {DUPLICATE}  # still the server's mark; the resolution below decides
        ev.flags = with_window_flag(",".join(own), ev.window_code)
        ev.flags_reviewed = True
    ev.counted = not ev.flags and not ev.excluded
    now = utcnow()
    ev.review_reason = reason
    ev.reviewed_by = by
    ev.reviewed_at = ev.updated_at = now
    after = _snapshot(ev)
    deltas = Deltas(tz)
    deltas.move(before, after)
    deltas.apply(session)
    session.flush()
    add_changes(
        session,
        [review_change(ev.id, before, after, reason=reason, by=by, user_id=user_id, at=now)],
    )
    if slot is not None:
        deltas = Deltas(tz)
        policy = one_rating or OneRatingPolicy()
        if resolve_slots(session, [slot], policy, deltas, now, became_counted=became_counted):
            deltas.apply(session)
            session.expire(ev)  # the resolution may have changed it too
