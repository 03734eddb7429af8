"""The case clock (docs/cases.md "Deadlines", "Command line"): `hallrate cases tick`.

``tick`` first recomputes the deadlines of open cases that were provisional (calendar data may
have arrived: ``hallrate calendar load`` or a chinese-calendar update), then sets each open
case's flag for the hall-local day of ``now``: a change appends a "flag" trail row (actor
"system") and alerts yellow / red / escalated (server/alerts/enqueue.py). Idempotent: a second
tick at the same ``now`` changes nothing. Ticks serialise (PostgreSQL: an advisory lock and row
locks on the open cases; SQLite: one writer), so two workers never flag a case twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.calendar import WorkingDays
from server.cases import deadlines
from server.cases.service import SYSTEM, add_event, case_days, local_day, refresh_flag
from server.cases.states import OPEN_STATES
from server.db import begin_write
from server.models.cases import Case
from server.policy import Policy

_TICK_LOCK = 0x6361736574696B  # pg_advisory_xact_lock id of the tick ("casetik")


@dataclass
class TickResult:
    now: datetime
    today: str
    open_cases: int = 0
    recomputed: int = 0
    flags: dict[str, int] = field(default_factory=dict)  # new flag -> cases that turned to it

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "today": self.today,
            "open_cases": self.open_cases,
            "recomputed": self.recomputed,
            "flags": dict(sorted(self.flags.items())),
        }


def _lock(session: Session) -> None:
    begin_write(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _TICK_LOCK})


def _open_cases(session: Session, *, provisional_only: bool = False) -> list[Case]:
    stmt = select(Case).where(Case.state.in_(OPEN_STATES))
    if provisional_only:
        stmt = stmt.where(Case.provisional.is_(True))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt.order_by(Case.id)))


def _recompute(
    session: Session,
    policy: Policy,
    cases: list[Case],
    wd: WorkingDays,
    now: datetime,
    *,
    every: bool = False,
) -> int:
    changed = 0
    for case in cases:
        if not (case.provisional or every):
            continue
        got = deadlines.compute(
            case.kind, case.category, case.opened_day, wd, policy.cases, case.extended_days
        )
        if (got.due, got.first_due, got.provisional) == (
            case.due,
            case.first_due,
            case.provisional,
        ):
            continue
        data = {
            "due": [case.due.isoformat(), got.due.isoformat()],
            "first_due": [
                case.first_due.isoformat() if case.first_due else None,
                got.first_due.isoformat() if got.first_due else None,
            ],
            "provisional": [case.provisional, got.provisional],
        }
        case.due, case.first_due, case.provisional = got.due, got.first_due, got.provisional
        case.version += 1
        add_event(
            session,
            case,
            "note",
            actor=SYSTEM,
            actor_role=SYSTEM,
            now=now,
            from_state=case.state,
            note="deadlines recomputed (期限已重算): calendar data or [cases] limits changed",
            data=data,
        )
        changed += 1
    return changed


def recompute_provisional(session: Session, policy: Policy, *, now: datetime | None = None) -> int:
    """Recompute the deadlines of open cases marked provisional with the working days known
    now (chinese-calendar and the calendar_days overrides); each case whose deadlines or mark
    changed gets a system "note" trail row with the old and new days. Commits; returns the
    number of cases changed."""
    return recompute_deadlines(session, policy, now=now)


def recompute_deadlines(
    session: Session, policy: Policy, *, every: bool = False, now: datetime | None = None
) -> int:
    """As ``recompute_provisional``; ``every``: every open case, not only provisional ones
    (after a correction of a year's overrides, or a change of the [cases] limits). Deadlines
    are always counted from the case's opened_day with its extensions."""
    from server.models.base import utcnow

    _lock(session)
    cases = _open_cases(session, provisional_only=not every)
    wd = case_days(session, policy)
    changed = _recompute(session, policy, cases, wd, now or utcnow(), every=every)
    session.commit()
    return changed


def tick(session: Session, policy: Policy, *, now: datetime) -> TickResult:
    """Recompute provisional deadlines, then flag every open case for ``now``; commits."""
    _lock(session)
    wd = case_days(session, policy)
    today = local_day(policy, now)
    cases = _open_cases(session)
    result = TickResult(now, today.isoformat(), open_cases=len(cases))
    result.recomputed = _recompute(session, policy, cases, wd, now)
    for case in cases:
        flag = refresh_flag(session, policy, case, now=now, wd=wd, today=today)
        if flag is not None:
            result.flags[flag] = result.flags.get(flag, 0) + 1
    session.commit()
    return result
