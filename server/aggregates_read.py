"""Read the incremental evaluation counts (the grains are kept by server/aggregates.py).

A query for [start, end) reads whole months from the monthly grain and the partial months at
its two ends from the daily grain; staff scopes read the daily grain only. ``per_day`` reads a
range day by day (GET /api/v1/trends) and ``weekday_hour_cells`` the hourly grain by weekday and
hour (GET /api/v1/heatmap).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, cast

from sqlalchemy import BigInteger, ColumnElement, Table, and_, extract, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from server.models import DailyCount, HourlyCount, MonthlyCount
from server.models.aggregates import LEVEL_COLUMNS
from server.models.evaluations import LEVELS

Counts = dict[str, dict[str, int]]
GroupBy = Literal["hall", "department", "window", "staff"]

_DAILY = cast(Table, DailyCount.__table__)
_MONTHLY = cast(Table, MonthlyCount.__table__)
_HOURLY = cast(Table, HourlyCount.__table__)


@dataclass(frozen=True)
class Filters:
    hall_ids: tuple[int, ...] | None = None  # None = every hall
    department_id: int | None = None
    window_id: int | None = None
    staff_id: int | None = None

    @property
    def whole_halls(self) -> bool:
        """No department, window or staff filter: the hourly grain can answer."""
        return self.department_id is None and self.window_id is None and self.staff_id is None


def _spans(start: date, end: date) -> tuple[list[tuple[date, date]], list[tuple[date, date]]]:
    """Split [start, end) into whole months and the leftover day ranges at both ends."""
    first_month = start if start.day == 1 else _next_month(start)
    last_month = end.replace(day=1)
    if first_month >= last_month:
        return [], [(start, end)] if start < end else []
    days = []
    if start < first_month:
        days.append((start, first_month))
    if last_month < end:
        days.append((last_month, end))
    return [(first_month, last_month)], days


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def _where(table: Table, period_col: str, lo: date, hi: date, f: Filters) -> ColumnElement[bool]:
    conds = [table.c[period_col] >= lo, table.c[period_col] < hi]
    if f.hall_ids is not None:
        conds.append(table.c.hall_id.in_(f.hall_ids))
    for dim in ("department_id", "window_id", "staff_id"):
        if (value := getattr(f, dim)) is not None:
            conds.append(table.c[dim] == value)
    return and_(*conds)


def _sums(table: Table) -> list[ColumnElement[int]]:
    # PostgreSQL sums BIGINT into NUMERIC; cast back so no Decimal is built per cell.
    return [sql_cast(func.sum(table.c[c]), BigInteger) for c in LEVEL_COLUMNS]


def _add(target: dict[str, int], ns: tuple[int, ...] | list[int]) -> None:
    for level, n in zip(LEVELS, ns, strict=True):
        if n:
            target[level] = target.get(level, 0) + int(n)


def grouped_counts(
    session: Session, start: date, end: date, filters: Filters, by: GroupBy | None = None
) -> dict[int, tuple[Counts, Counts]]:
    """Counted and not-counted level counts per channel over [start, end), per group id.

    With ``by=None`` the single group has id 0. Staff scopes read the daily grain only, since
    the monthly grain has no staff dimension.
    """
    if by == "staff" or filters.staff_id is not None:
        parts = [(_DAILY, "day", start, end)] if start < end else []
    else:
        months, days = _spans(start, end)
        parts = [(_MONTHLY, "month", lo, hi) for lo, hi in months]
        parts += [(_DAILY, "day", lo, hi) for lo, hi in days]
    out: dict[int, tuple[Counts, Counts]] = {}
    for table, period_col, lo, hi in parts:
        dims = [table.c.channel, table.c.counted]
        if by:
            dims.insert(0, table.c[f"{by}_id"])
        stmt = (
            select(*dims, *_sums(table))
            .where(_where(table, period_col, lo, hi, filters))
            .group_by(*dims)
        )
        for row in session.execute(stmt):
            if by:
                gid, channel, counted, *ns = row
            else:
                gid = 0
                channel, counted, *ns = row
            counted_map, excluded_map = out.setdefault(gid, ({}, {}))
            _add((counted_map if counted else excluded_map).setdefault(channel, {}), ns)
    return out


def counts(session: Session, start: date, end: date, filters: Filters) -> tuple[Counts, Counts]:
    return grouped_counts(session, start, end, filters).get(0, ({}, {}))


def per_day(
    session: Session, start: date, end: date, filters: Filters
) -> dict[date, tuple[Counts, Counts]]:
    """Counted and not-counted level counts per channel of every day in [start, end) that has
    any, in one query: the hourly grain summed over its hours for whole halls (fewer rows than
    the daily grain's windows and staff), the daily grain for a department, window or staff."""
    table = _HOURLY if filters.whole_halls else _DAILY
    dims = [table.c.day, table.c.channel, table.c.counted]
    stmt = (
        select(*dims, *_sums(table))
        .where(_where(table, "day", start, end, filters))
        .group_by(*dims)
    )
    out: dict[date, tuple[Counts, Counts]] = {}
    for day, channel, counted, *ns in session.execute(stmt):
        counted_map, excluded_map = out.setdefault(day, ({}, {}))
        _add((counted_map if counted else excluded_map).setdefault(channel, {}), ns)
    return out


def weekday_hour_cells(
    session: Session,
    start: date,
    end: date,
    hall_ids: tuple[int, ...] | None,
    channels: tuple[str, ...] | None = None,
) -> Iterator[tuple[int, int, dict[str, int]]]:
    """(ISO weekday 1..7 of the hall-local day, hour 0..23, counted level counts) of the hourly
    grain over [start, end) for these halls (None: every hall) and channels (None: every
    channel), summed over days, halls and channels in the query (at most 168 rows)."""
    t = _HOURLY
    conds = [t.c.day >= start, t.c.day < end, t.c.counted.is_(True)]
    if hall_ids is not None:
        conds.append(t.c.hall_id.in_(hall_ids))
    if channels is not None:
        conds.append(t.c.channel.in_(channels))
    weekday: ColumnElement[Any]
    if session.get_bind().dialect.name == "sqlite":
        weekday = func.strftime("%w", t.c.day)  # "0" (Sunday) .. "6"
    else:
        weekday = extract("isodow", t.c.day)  # 1 (Monday) .. 7
    stmt = select(weekday, t.c.hour, *_sums(t)).where(*conds).group_by(weekday, t.c.hour)
    for wd, hour, *ns in session.execute(stmt):
        levels: dict[str, int] = {}
        _add(levels, ns)
        yield int(wd) or 7, int(hour), levels
