"""Maintain and read the incremental evaluation counts (see docs/adr/0005-aggregates.md).

Every change to an evaluation's counted state or dimensions goes through ``Deltas`` and is
applied with one upsert per grain, inside the caller's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    and_,
    case,
    delete,
    func,
    literal,
    select,
)
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.orm import Session

from server.models import DailyCount, Evaluation, MonthlyCount
from server.models.aggregates import LEVEL_COLUMNS
from server.models.evaluations import LEVELS

# Narrow form of one count, used by tests and repair:
# (day, hall_id, department_id, window_id, staff_id, channel, level, counted)
CountKey = tuple[date, int, int, int, int, str, str, bool]
# A stored row's key: (period, hall_id, department_id, window_id, staff_id, channel, counted)
CellKey = tuple[date, int, int, int, int, str, bool]
Counts = dict[str, dict[str, int]]
GroupBy = Literal["hall", "department", "window", "staff"]

_DAILY = cast(Table, DailyCount.__table__)
_MONTHLY = cast(Table, MonthlyCount.__table__)
_DIMS = ("hall_id", "department_id", "window_id", "staff_id", "channel", "counted")
_LEVEL_INDEX = {level: i for i, level in enumerate(LEVELS)}


def count_key(row: Mapping[str, Any]) -> CountKey:
    """The narrow count of an evaluation given as a mapping of its columns."""
    return (
        row["local_day"],
        row["hall_id"],
        row["department_id"] or 0,
        row["window_id"] or 0,
        row["staff_id"] or 0,
        row["channel"],
        row["level"],
        bool(row["counted"]),
    )


@dataclass
class Deltas:
    cells: dict[CountKey, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, row: Mapping[str, Any], sign: int = 1) -> None:
        self.cells[count_key(row)] += sign

    def move(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        old_key, new_key = count_key(old), count_key(new)
        if old_key != new_key:
            self.cells[old_key] -= 1
            self.cells[new_key] += 1

    def apply(self, session: Session) -> None:
        daily: dict[CellKey, list[int]] = {}
        monthly: dict[CellKey, list[int]] = {}
        for (day, hall, dept, window, staff, channel, level, counted), n in self.cells.items():
            if not n:
                continue
            i = _LEVEL_INDEX[level]
            daily.setdefault((day, hall, dept, window, staff, channel, counted), [0] * 5)[i] += n
            mkey = (day.replace(day=1), hall, dept, window, 0, channel, counted)
            monthly.setdefault(mkey, [0] * 5)[i] += n
        self.cells.clear()
        for table, period_col, cells in ((_DAILY, "day", daily), (_MONTHLY, "month", monthly)):
            cells = {k: v for k, v in cells.items() if any(v)}
            if cells:
                _upsert(session, table, period_col, cells)


def _upsert(
    session: Session, table: Table, period_col: str, cells: Mapping[CellKey, list[int]]
) -> None:
    # The same ON CONFLICT statement works on SQLite (>= 3.24) and PostgreSQL; sent as one
    # driver-level executemany because a batch can touch a thousand cells.
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    keys = (period_col, *_DIMS)
    name = table.name
    sql = (
        f"INSERT INTO {name} ({', '.join(keys + LEVEL_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * (len(keys) + 5))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
        + ", ".join(f"{c} = {name}.{c} + excluded.{c}" for c in LEVEL_COLUMNS)
    )
    params: list[tuple[Any, ...]]
    if conn.dialect.name == "sqlite":
        params = [(k[0].isoformat(), *k[1:6], int(k[6]), *v) for k, v in cells.items()]
    else:
        params = [(*k, *v) for k, v in cells.items()]
    conn.exec_driver_sql(sql, params)
    # Cells that fell to zero carry no information; dropping them keeps the tables small.
    if any(n < 0 for v in cells.values() for n in v):
        session.execute(delete(table).where(*(table.c[c] == 0 for c in LEVEL_COLUMNS)))


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Filters:
    hall_ids: tuple[int, ...] | None = None  # None = every hall
    department_id: int | None = None
    window_id: int | None = None
    staff_id: int | None = None


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
    if f.department_id is not None:
        conds.append(table.c.department_id == f.department_id)
    if f.window_id is not None:
        conds.append(table.c.window_id == f.window_id)
    if f.staff_id is not None:
        conds.append(table.c.staff_id == f.staff_id)
    return and_(*conds)


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
        # PostgreSQL sums BIGINT into NUMERIC; cast back so no Decimal is built per cell.
        sums = [sql_cast(func.sum(table.c[c]), BigInteger) for c in LEVEL_COLUMNS]
        stmt = (
            select(*dims, *sums).where(_where(table, period_col, lo, hi, filters)).group_by(*dims)
        )
        for row in session.execute(stmt):
            if by:
                gid, channel, counted, *ns = row
            else:
                gid = 0
                channel, counted, *ns = row
            counted_map, excluded_map = out.setdefault(gid, ({}, {}))
            per_level = (counted_map if counted else excluded_map).setdefault(channel, {})
            for level, n in zip(LEVELS, ns, strict=True):
                if n:
                    per_level[level] = per_level.get(level, 0) + int(n)
    return out


def counts(session: Session, start: date, end: date, filters: Filters) -> tuple[Counts, Counts]:
    return grouped_counts(session, start, end, filters).get(0, ({}, {}))


# ---------------------------------------------------------------- checking and repair


def recompute(rows: Iterable[Mapping[str, Any]]) -> dict[CountKey, int]:
    """The narrow daily counts computed from raw evaluation rows (the reference for tests)."""
    cells: dict[CountKey, int] = defaultdict(int)
    for row in rows:
        cells[count_key(row)] += 1
    return dict(cells)


def _stored(session: Session, table: Table, period_col: str) -> dict[CountKey, int]:
    cols = [table.c[period_col], *(table.c[c] for c in _DIMS), *(table.c[c] for c in LEVEL_COLUMNS)]
    out: dict[CountKey, int] = {}
    for r in session.execute(select(*cols)):
        period, hall, dept, window, staff, channel, counted, *ns = r
        for level, n in zip(LEVELS, ns, strict=True):
            if n:
                out[(period, hall, dept, window, staff, channel, level, bool(counted))] = int(n)
    return out


def stored_daily(session: Session) -> dict[CountKey, int]:
    """The daily grain in narrow form (zero counts left out)."""
    return _stored(session, _DAILY, "day")


def stored_monthly(session: Session) -> dict[CountKey, int]:
    """The monthly grain in narrow form (zero counts left out; staff is always 0)."""
    return _stored(session, _MONTHLY, "month")


def rebuild(session: Session) -> None:
    """Recompute both grains from the raw evaluations (repair, or after a bulk load)."""
    e = Evaluation.__table__
    session.execute(delete(DailyCount))
    session.execute(delete(MonthlyCount))
    dims = [
        e.c.hall_id,
        func.coalesce(e.c.department_id, 0),
        func.coalesce(e.c.window_id, 0),
        func.coalesce(e.c.staff_id, 0),
        e.c.channel,
        e.c.counted,
    ]
    levels = [func.sum(case((e.c.level == lv, 1), else_=0)) for lv in LEVELS]
    daily = select(e.c.local_day, *dims, *levels).group_by(e.c.local_day, *dims)
    session.execute(_DAILY.insert().from_select(["day", *_DIMS, *LEVEL_COLUMNS], daily))
    d = _DAILY
    month_expr: ColumnElement[Any]
    if session.get_bind().dialect.name == "sqlite":
        month_expr = func.date(d.c.day, "start of month")
    else:
        month_expr = func.cast(func.date_trunc("month", d.c.day), d.c.day.type)
    mdims = [month_expr, d.c.hall_id, d.c.department_id, d.c.window_id, d.c.channel, d.c.counted]
    monthly = select(
        mdims[0], *mdims[1:4], literal(0), *mdims[4:], *(func.sum(d.c[c]) for c in LEVEL_COLUMNS)
    ).group_by(*mdims)
    session.execute(_MONTHLY.insert().from_select(["month", *_DIMS, *LEVEL_COLUMNS], monthly))
