"""The 差评 of one hall and period: every counted evaluation at a level of the policy's
``[cases] bad_levels``, with its window, staff member and case.

One query for both readers, so they cannot disagree: the monthly 差评 report (server/reports/
data.py, every row, oldest first) and GET /api/v1/bad-ratings (filtered, newest first, a page).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from server.models import Evaluation, Staff, Window
from server.models.cases import Case
from server.periods import Period
from server.policy import Policy

NO_CASE = "none"  # the case_state filter of a 差评 without a case


@dataclass(frozen=True)
class BadFilters:
    """Which 差评: one hall's, optionally one window's or staff member's (ids), one channel's,
    and those whose case is in one state (``"none"``: those without a case)."""

    hall_id: int
    window_id: int | None = None
    staff_id: int | None = None
    channel: str | None = None
    case_state: str | None = None


@dataclass(frozen=True)
class BadRow:
    evaluation: Evaluation
    window_code: str | None  # the hall's window; else the code as reported, if any
    window_name: str | None
    staff_number: str | None
    staff_name: str | None
    case: Case | None


_W, _S, _C = aliased(Window), aliased(Staff), aliased(Case)
_Stmt = TypeVar("_Stmt", bound=Select[*tuple[Any, ...]])


def _where(stmt: _Stmt, policy: Policy, p: Period, f: BadFilters, joined: bool = False) -> _Stmt:
    """``stmt`` kept to ``f``'s 差评; the case is joined when the filter needs it (or
    ``joined``: the caller selects it)."""
    e = Evaluation
    if joined or f.case_state is not None:
        stmt = stmt.outerjoin(_C, _C.evaluation_id == e.id)
    stmt = stmt.where(
        e.hall_id == f.hall_id,
        e.local_day >= p.start,
        e.local_day < p.end,
        e.counted.is_(True),
        e.level.in_(policy.cases.bad_levels),
    )
    if f.window_id is not None:
        stmt = stmt.where(e.window_id == f.window_id)
    if f.staff_id is not None:
        stmt = stmt.where(e.staff_id == f.staff_id)
    if f.channel is not None:
        stmt = stmt.where(e.channel == f.channel)
    if f.case_state == NO_CASE:
        stmt = stmt.where(_C.id.is_(None))
    elif f.case_state is not None:
        stmt = stmt.where(_C.state == f.case_state)
    return stmt


def bad_rows(
    session: Session,
    policy: Policy,
    p: Period,
    f: BadFilters,
    newest_first: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[BadRow]:
    """The 差评 of ``f`` in ``p``: oldest first (the report), or newest first (the API); ties
    by evaluation id in the same direction."""
    e = Evaluation
    order = (e.occurred_at.desc(), e.id.desc()) if newest_first else (e.occurred_at, e.id)
    stmt = (
        select(e, _W.code, _W.name, _S.number, _S.name, _C)
        .select_from(e)
        .outerjoin(_W, _W.id == e.window_id)
        .outerjoin(_S, _S.id == e.staff_id)
    )
    if limit is None and not offset:
        stmt = _where(stmt, policy, p, f, joined=True)
    else:
        # A page: its evaluation ids first, then their window, staff and case, so the joins
        # are made for the page's rows and not for every 差评 of the period before the sort.
        page = _where(select(e.id).select_from(e), policy, p, f).order_by(*order)
        page = page.limit(limit).offset(offset or None).correlate(None)
        stmt = stmt.outerjoin(_C, _C.evaluation_id == e.id).where(e.id.in_(page.scalar_subquery()))
    stmt = stmt.order_by(*order)
    return [
        BadRow(ev, wcode or ev.window_code, wname, snum, sname, case)
        for ev, wcode, wname, snum, sname, case in session.execute(stmt)
    ]


def bad_count(session: Session, policy: Policy, p: Period, f: BadFilters) -> int:
    """How many rows ``bad_rows`` has for ``f`` and ``p`` (without a page)."""
    stmt = _where(select(func.count()).select_from(Evaluation), policy, p, f)
    return int(session.scalar(stmt) or 0)


def _utc(value: Any) -> str:
    return str(value.astimezone(UTC).isoformat(timespec="seconds")).replace("+00:00", "Z")


def reasons(row: BadRow) -> list[str]:
    return [x for x in row.evaluation.reasons.split(",") if x]


def item(row: BadRow, zone: ZoneInfo) -> dict[str, Any]:
    """One 差评 as GET /api/v1/bad-ratings answers it (docs/api.md "差评 list"). Nothing about
    the citizen: no phone number (a comment's are stored masked), no name."""
    ev, case = row.evaluation, row.case
    return {
        "evaluation_id": ev.id,
        "occurred_at": _utc(ev.occurred_at),
        "occurred_local": ev.occurred_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "channel": ev.channel,
        "level": ev.level,
        "window": {"code": row.window_code, "name": row.window_name} if row.window_code else None,
        "staff": {"number": row.staff_number, "name": row.staff_name} if row.staff_number else None,
        "reasons": reasons(row),
        "comment": ev.comment,
        "case": None
        if case is None
        else {
            "id": case.id,
            "number": case.number,
            "state": case.state,
            "flag": case.flag,
            "due": case.due.isoformat(),
            "closed_day": case.closed_day.isoformat() if case.closed_day else None,
            "closed_on_time": case.closed_on_time,
        },
    }


def items(rows: Sequence[BadRow], policy: Policy) -> list[dict[str, Any]]:
    zone = ZoneInfo(policy.timezone)
    return [item(r, zone) for r in rows]
