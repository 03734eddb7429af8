"""Cases opened by ratings (docs/cases.md "States", "API"): every counted 差评 of any channel,
in the transaction that made it count, and 申诉复核 appeals.

- Ingest (server/ingest/evaluations.py ``store_evaluations``, the one store every channel goes
  through: gateway, SMS replies, phone call-backs, online, imports, system defaults) calls
  ``open_for_counted`` with the 差评 it stored and the ratings a revision or 一次一评 made
  count.
- A review (PATCH /api/v1/evaluations/{id}, server/review.py) of a 差评 is an appeal:
  ``record_appeal`` opens its case with origin "appeal" (or attaches to the existing one) and
  writes the review to the trail; ratings of the ticket that count after the review's
  一次一评 resolution open theirs through ``open_for_counted``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from server.cases.service import add_event, open_for_bad_rating
from server.directory import CHUNK
from server.models import Evaluation
from server.models.cases import Case
from server.policy import Policy

T = TypeVar("T")


def _chunks(values: list[T], size: int = CHUNK) -> Iterable[list[T]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def open_for_counted(
    session: Session,
    policy: Policy | None,
    *,
    keys: Collection[tuple[int, str]] = (),
    ids: Collection[int] = (),
    now: datetime,
) -> list[Case]:
    """Open the bad_rating case of each rating named by (hall_id, key) or id that is a counted
    差评 without a case. Returns the cases opened."""
    policy = policy or Policy.default()
    cp = policy.cases
    if not cp.open_on_bad_rating or not (keys or ids):
        return []
    conditions: list[ColumnElement[bool]] = []
    by_hall: dict[int, list[str]] = {}
    for hall_id, key in keys:
        by_hall.setdefault(hall_id, []).append(key)
    for hall_id, hall_keys in by_hall.items():
        for chunk in _chunks(sorted(hall_keys)):
            conditions.append((Evaluation.hall_id == hall_id) & Evaluation.key.in_(chunk))
    for id_chunk in _chunks(sorted(ids)):
        conditions.append(Evaluation.id.in_(id_chunk))
    found = session.scalars(
        select(Evaluation)
        .where(
            or_(*conditions),
            Evaluation.counted.is_(True),
            Evaluation.level.in_(cp.bad_levels),
            ~exists().where(Case.evaluation_id == Evaluation.id),
        )
        .order_by(Evaluation.id)
    )
    return [c for ev in list(found) if (c := open_for_bad_rating(session, policy, ev, now=now))]


def record_appeal(
    session: Session,
    policy: Policy,
    evaluation: Evaluation,
    *,
    actor: str,
    actor_role: str,
    reason: str,
    now: datetime,
) -> Case | None:
    """A review (申诉复核) of a 差评 ([cases] bad_levels): its bad_rating case, opened with
    origin "appeal" when it has none (unless [cases] open_on_bad_rating is false), gets a
    "note" trail row with the review's reason and outcome (excluded, flags, counted) and
    ``extra.appeal``. None for a rating that is no 差评."""
    cp = policy.cases
    if evaluation.level not in cp.bad_levels:
        return None
    case = session.scalar(select(Case).where(Case.evaluation_id == evaluation.id))
    if case is None:
        if not cp.open_on_bad_rating:
            return None
        case = open_for_bad_rating(session, policy, evaluation, now=now, origin="appeal")
        if case is None:  # opened concurrently
            case = session.scalar(select(Case).where(Case.evaluation_id == evaluation.id))
            if case is None:
                return None
    outcome = {
        "excluded": evaluation.excluded,
        "flags": [f for f in evaluation.flags.split(",") if f],
        "counted": evaluation.counted,
        "reviewed_by": actor,
        "at": now.isoformat(),
    }
    case.extra = dict(case.extra or {}) | {"appeal": outcome}
    case.version += 1
    add_event(
        session,
        case,
        "note",
        actor=actor,
        actor_role=actor_role,
        now=now,
        from_state=case.state,
        note=f"申诉复核 appeal: {reason}",
        data={"appeal": outcome},
    )
    session.flush()
    return case
