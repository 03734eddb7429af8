"""The query layer of the case figures (server/cases/figures.py).

``load_groups`` counts the cases of a period in SQL, grouped by everything the figures read
(the opened cohort by its flags, the closed cohort by its (opened_day, closed_day) pair, its
time to close and its feedback), so the figures are computed per group, not per case.
``load_rows`` reads one row per case: the straightforward reference the grouped query is
tested against (tests/server/cases/test_figures_groups.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    DateTime,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from server.cases.figures_rows import CaseRow, office_of
from server.models import Department, Evaluation, Hall
from server.models.base import UTCDateTime
from server.models.cases import Case, CaseEvent
from server.periods import Period, _local_midnight_utc

# What str.strip() strips: a rectification of only these is empty.
_WHITESPACE = "".join(c for c in map(chr, range(1, 0x3001)) if c.isspace())


def _cohorts(period: Period) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (
        and_(Case.opened_day >= period.start, Case.opened_day < period.end),
        and_(Case.closed_day >= period.start, Case.closed_day < period.end),
    )


def _flag(condition: ColumnElement[Any]) -> ColumnElement[int]:
    """1 or 0 (a NULL condition is 0), the same on SQLite and PostgreSQL."""
    return case((condition, 1), else_=0)


def _rectified(dialect: str) -> ColumnElement[int]:
    trim = func.btrim if dialect == "postgresql" else func.trim
    return _flag(func.length(trim(Case.rectification, _WHITESPACE)) > 0)


def _seconds_to_close(dialect: str) -> ColumnElement[int]:
    """int((closed_at - opened_at).total_seconds()): whole seconds, truncated toward zero."""
    if dialect == "postgresql":
        epoch = func.extract("epoch", Case.closed_at - Case.opened_at)
        return cast(func.trunc(epoch), BigInteger)
    # SQLite keeps an instant as text "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC): whole seconds by
    # strftime, microseconds by their digits, integer division truncates toward zero.
    c, o = Case.closed_at, Case.opened_at
    micros = (
        cast(func.strftime("%s", c), BigInteger) - cast(func.strftime("%s", o), BigInteger)
    ) * 1_000_000 + (
        cast(func.substr(c, 21, 6), BigInteger) - cast(func.substr(o, 21, 6), BigInteger)
    )
    return cast(micros / 1_000_000, BigInteger)


def _escalated_by_trail(
    session: Session, opened: ColumnElement[bool], halls: ColumnElement[bool] | None
) -> set[int]:
    """Cases of the opened cohort whose trail has a flag change to ``escalated`` (督办)."""
    stmt = (
        select(CaseEvent.case_id, CaseEvent.data)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.action == "flag", opened)
    )
    if halls is not None:
        stmt = stmt.where(halls)
    return {int(case_id) for case_id, data in session.execute(stmt) if _escalates(data)}


def _escalates(data: Any) -> bool:
    change = (data or {}).get("flag")  # [before, after] (server/cases/service.py)
    return isinstance(change, list) and change[-1:] == ["escalated"]


def _callback_on_time(
    session: Session, period: Period, opened: ColumnElement[bool], halls: ColumnElement[bool] | None
) -> ColumnElement[int]:
    """Called back by the end of its first_due (or due) hall-local day: before the UTC instant
    of the next local midnight (bad_rating cases only)."""
    by_day = func.coalesce(Case.first_due, Case.due)

    def on_time(limit: Any) -> ColumnElement[int]:
        return _flag(and_(Case.kind == "bad_rating", Case.called_back_at < limit))

    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # The local midnight after the day, as an instant, computed by PostgreSQL per row (its
        # zone rules are the IANA ones Python uses).
        return on_time(func.timezone(period.tz, cast(by_day + 1, DateTime())))
    offset = _fixed_offset(period.tz, period.start.year)
    if dialect == "sqlite" and offset is not None:
        # A zone without offset changes (Asia/Shanghai): midnight after the day is the day plus
        # 24 h less the offset, in the text form SQLite keeps instants in ("YYYY-MM-DD
        # HH:MM:SS" sorts before the same second with its ".ffffff" digits: strictly before).
        return on_time(func.datetime(by_day, f"{86400 - offset:+d} seconds"))
    # Any other zone: one instant per distinct due day, computed here.
    stmt = (
        select(by_day)
        .distinct()
        .where(opened, Case.kind == "bad_rating", Case.called_back_at.is_not(None))
    )
    if halls is not None:
        stmt = stmt.where(halls)
    days: list[date] = [d for (d,) in session.execute(stmt)]
    if not days:
        return literal(0)
    limit = case(
        {
            d: literal(_local_midnight_utc(d + timedelta(days=1), period.tz), UTCDateTime())
            for d in days
        },
        value=by_day,
    )
    return on_time(limit)


@lru_cache(maxsize=32)
def _fixed_offset(tz: str, year: int) -> int | None:
    """The zone's UTC offset in seconds when it is the same on every day of the years around
    ``year`` (no daylight saving time, no change of standard time); else None."""
    zone = ZoneInfo(tz)
    day, end = date(year - 1, 1, 1), date(year + 2, 1, 1)
    offsets = set()
    while day < end:
        off = datetime.combine(day, time(12), tzinfo=zone).utcoffset()
        offsets.add(int(off.total_seconds()) if off is not None else 0)
        day += timedelta(days=1)
    return offsets.pop() if len(offsets) == 1 else None


def load_groups(
    session: Session, period: Period, hall_ids: Sequence[int] | None, today: date
) -> list[CaseRow]:
    """The cases of the halls (None: every hall) opened or closed in the period as rows that
    each stand for ``n`` cases alike in what the figures read, judged at ``today``; the same
    figures as ``load_rows``."""
    dialect = session.get_bind().dialect.name
    opened, closed = _cohorts(period)
    halls = Case.hall_id.in_(hall_ids) if hall_ids is not None else None
    trail = _escalated_by_trail(session, opened, halls)
    escalated = Case.flag == "escalated"
    if trail:
        ids: BindParameter[list[int]] = bindparam(
            "trail", sorted(trail), expanding=True, literal_execute=True
        )
        escalated = or_(escalated, Case.id.in_(ids))
    office = (Case.hall_id, Case.kind, Case.department_id, Case.assignee_department_id)
    opened_keys = (
        *office,
        Case.state,
        _flag(Case.due < today),
        Case.closed_on_time,
        _flag(func.coalesce(Case.extended_days, 0) > 0),
        _flag(escalated),
        Evaluation.counted,
        _flag(Case.called_back_at.is_not(None)),
        _callback_on_time(session, period, opened, halls),
        _rectified(dialect),
    )
    closed_keys = (
        *office,
        Case.opened_day,
        Case.closed_day,
        Case.closed_on_time,
        Case.feedback,
        _seconds_to_close(dialect),
    )
    q_opened = (
        select(*opened_keys, func.count())
        .select_from(Case)
        .outerjoin(Evaluation, Evaluation.id == Case.evaluation_id)
        .where(opened)
        .group_by(*opened_keys)
    )
    q_closed = select(*closed_keys, func.count()).where(closed).group_by(*closed_keys)
    if halls is not None:
        q_opened, q_closed = q_opened.where(halls), q_closed.where(halls)
    opened_groups = session.execute(q_opened).all()
    closed_groups = session.execute(q_closed).all()
    found = {g[0] for g in opened_groups} | {g[0] for g in closed_groups}
    names = _names(session, found)
    start = period.start_utc
    out: list[CaseRow] = []
    for (
        hall_id,
        kind,
        dep,
        assignee,
        state,
        over,
        on_time,
        ext,
        esc,
        counted,
        called,
        cb,
        rect,
        n,
    ) in opened_groups:
        out.append(
            CaseRow(
                kind=kind,
                state=state,
                opened_at=start,
                opened_day=period.start,
                due=date.min if over else date.max,
                called_back_at=start if called else None,
                closed_on_time=on_time,
                rectified=bool(rect),
                extended_days=1 if ext else 0,
                escalated=bool(esc),
                withdrawn=kind == "bad_rating" and counted is False,
                n=n,
                cohort="opened",
                callback_on_time=bool(cb),
                **names(hall_id, office_of(kind, dep, assignee)),
            )
        )
    for hall_id, kind, dep, assignee, o_day, c_day, on_time, feedback, seconds, n in closed_groups:
        out.append(
            CaseRow(
                kind=kind,
                state="closed",
                opened_at=start,
                opened_day=o_day,
                due=date.max,
                closed_at=start + timedelta(seconds=int(seconds)),
                closed_day=c_day,
                closed_on_time=on_time,
                feedback=feedback,
                n=n,
                cohort="closed",
                **names(hall_id, office_of(kind, dep, assignee)),
            )
        )
    return out


def _names(session: Session, hall_ids: set[int]) -> Any:
    """A function of (hall id, office id) to the hall and office fields of a CaseRow."""
    halls = {
        h.id: (h.code, h.name or "")
        for h in session.scalars(select(Hall).where(Hall.id.in_(hall_ids)))
    }
    offices = {
        d.id: (d.code, d.name)
        for d in session.scalars(select(Department).where(Department.hall_id.in_(hall_ids)))
    }

    def names(hall_id: int, office_id: int | None) -> dict[str, Any]:
        office = offices.get(office_id) if office_id is not None else None
        return {
            "hall": halls[hall_id][0],
            "hall_name": halls[hall_id][1],
            "office": office[0] if office else None,
            "office_name": office[1] if office else "",
        }

    return names


# The columns the figures read (not the texts of the case, but whether it has a rectification).
_COLUMNS = (
    Case.id,
    Case.hall_id,
    Case.kind,
    Case.state,
    Case.opened_at,
    Case.opened_day,
    Case.due,
    Case.first_due,
    Case.called_back_at,
    Case.closed_at,
    Case.closed_day,
    Case.closed_on_time,
    Case.rectification,
    Case.feedback,
    Case.extended_days,
    Case.flag,
    Case.department_id,
    Case.assignee_department_id,
)


def load_rows(session: Session, period: Period, hall_ids: Sequence[int] | None) -> list[CaseRow]:
    """The cases of the halls (None: every hall) opened or closed in the period, with their
    hall, office, whether their rating still counts, and whether they were ever escalated."""
    in_period = or_(
        and_(Case.opened_day >= period.start, Case.opened_day < period.end),
        and_(Case.closed_day >= period.start, Case.closed_day < period.end),
    )
    # Plain rows, not Case objects: building an ORM object per case was most of the time of a
    # hall's quarter with thousands of cases (docs/benchmarks.md "Dashboard API calls").
    stmt = (
        select(*_COLUMNS, Hall.code.label("hall_code"), Hall.name.label("hall_name"))
        .add_columns(Evaluation.counted)
        .select_from(Case)
        .join(Hall, Hall.id == Case.hall_id)
        .outerjoin(Evaluation, Evaluation.id == Case.evaluation_id)
        .where(in_period)
        .order_by(Case.id)
    )
    if hall_ids is not None:
        stmt = stmt.where(Case.hall_id.in_(hall_ids))
    found = session.execute(stmt).all()
    ids = [c.id for c in found]
    escalated = _ever_escalated(session, ids)
    offices = {
        d.id: (d.code, d.name)
        for d in session.scalars(
            select(Department).where(Department.hall_id.in_({c.hall_id for c in found}))
        )
    }
    out = []
    for row in found:
        hall_code, hall_name, counted = row.hall_code, row.hall_name, row.counted
        office_id = office_of(row.kind, row.department_id, row.assignee_department_id)
        office = offices.get(office_id) if office_id is not None else None
        out.append(
            CaseRow(
                kind=row.kind,
                hall=hall_code,
                state=row.state,
                opened_at=row.opened_at,
                opened_day=row.opened_day,
                due=row.due,
                first_due=row.first_due,
                called_back_at=row.called_back_at,
                closed_at=row.closed_at,
                closed_day=row.closed_day,
                closed_on_time=row.closed_on_time,
                rectified=bool((row.rectification or "").strip()),
                feedback=row.feedback,
                extended_days=row.extended_days or 0,
                escalated=row.flag == "escalated" or row.id in escalated,
                withdrawn=row.kind == "bad_rating" and counted is False,
                office=office[0] if office else None,
                hall_name=hall_name or "",
                office_name=office[1] if office else "",
            )
        )
    return out


def _ever_escalated(session: Session, ids: Sequence[int]) -> set[int]:
    """Cases whose trail has a flag change to ``escalated`` (督办): an event of action "flag"
    with data {"flag": [before, "escalated"]}."""
    out: set[int] = set()
    for i in range(0, len(ids), 5000):
        chunk = ids[i : i + 5000]
        for case_id, data in session.execute(
            select(CaseEvent.case_id, CaseEvent.data).where(
                CaseEvent.case_id.in_(chunk), CaseEvent.action == "flag"
            )
        ):
            change = (data or {}).get("flag")  # [before, after] (server/cases/service.py)
            if isinstance(change, list) and change[-1:] == ["escalated"]:
                out.add(int(case_id))
    return out
