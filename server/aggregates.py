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

from sqlalchemy import ColumnElement, Table, and_, delete, func, select
from sqlalchemy.orm import Session

from server.models import DailyCount, Evaluation, MonthlyCount

# (day, hall_id, department_id, window_id, staff_id, channel, level, counted)
CountKey = tuple[date, int, int, int, int, str, str, bool]
Counts = dict[str, dict[str, int]]
GroupBy = Literal["hall", "department", "window", "staff"]

_DAILY = cast(Table, DailyCount.__table__)
_MONTHLY = cast(Table, MonthlyCount.__table__)

_KEY_COLUMNS = (
    "hall_id",
    "department_id",
    "window_id",
    "staff_id",
    "channel",
    "level",
    "counted",
)


def count_key(row: Mapping[str, Any]) -> CountKey:
    """The aggregate cell of an evaluation given as a mapping of its columns."""
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
        daily = {k: n for k, n in self.cells.items() if n}
        if not daily:
            return
        monthly: dict[CountKey, int] = defaultdict(int)
        for key, n in daily.items():
            monthly[(key[0].replace(day=1), *key[1:])] += n
        _upsert(session, _DAILY, "day", daily)
        _upsert(session, _MONTHLY, "month", monthly)
        self.cells.clear()


def _upsert(session: Session, table: Table, period_col: str, cells: Mapping[CountKey, int]) -> None:
    # The same ON CONFLICT statement works on SQLite (>= 3.24) and PostgreSQL; sent as one
    # driver-level executemany because a batch can touch a thousand cells.
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    columns = (period_col, *_KEY_COLUMNS)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}, n) "
        f"VALUES ({', '.join([mark] * (len(columns) + 1))}) "
        f"ON CONFLICT ({', '.join(columns)}) DO UPDATE SET n = {table.name}.n + excluded.n"
    )
    if conn.dialect.name == "sqlite":
        params: list[tuple[Any, ...]] = [
            (k[0].isoformat(), *k[1:7], int(k[7]), n) for k, n in cells.items()
        ]
    else:
        params = [(*k, n) for k, n in cells.items()]
    conn.exec_driver_sql(sql, params)
    # Cells that fell to zero carry no information; dropping them keeps the tables small.
    if any(n < 0 for n in cells.values()):
        session.execute(delete(table).where(table.c.n == 0))


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

    With ``by=None`` the single group has id 0.
    """
    months, days = _spans(start, end)
    parts: list[tuple[Table, str, date, date]] = [
        (_MONTHLY, "month", lo, hi) for lo, hi in months
    ] + [(_DAILY, "day", lo, hi) for lo, hi in days]
    out: dict[int, tuple[Counts, Counts]] = {}
    for table, period_col, lo, hi in parts:
        group_col = table.c[f"{by}_id"] if by else None
        cols = [table.c.channel, table.c.level, table.c.counted, func.sum(table.c.n)]
        if group_col is not None:
            cols.insert(0, group_col)
        stmt = select(*cols).where(_where(table, period_col, lo, hi, filters)).group_by(*cols[:-1])
        for row in session.execute(stmt):
            if group_col is not None:
                gid, channel, level, counted, n = row
            else:
                gid = 0
                channel, level, counted, n = row
            counted_map, excluded_map = out.setdefault(gid, ({}, {}))
            target = counted_map if counted else excluded_map
            per_level = target.setdefault(channel, {})
            per_level[level] = per_level.get(level, 0) + int(n)
    return out


def counts(session: Session, start: date, end: date, filters: Filters) -> tuple[Counts, Counts]:
    return grouped_counts(session, start, end, filters).get(0, ({}, {}))


# ---------------------------------------------------------------- checking and repair


def recompute(rows: Iterable[Mapping[str, Any]]) -> dict[CountKey, int]:
    """The daily cells computed from raw evaluation rows (the reference for tests)."""
    cells: dict[CountKey, int] = defaultdict(int)
    for row in rows:
        cells[count_key(row)] += 1
    return dict(cells)


def stored_daily(session: Session) -> dict[CountKey, int]:
    t = _DAILY
    cols = [t.c.day, *(t.c[c] for c in _KEY_COLUMNS), t.c.n]
    return {
        (r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])): int(r[8])
        for r in session.execute(select(*cols))
        if r[8]
    }


def stored_monthly(session: Session) -> dict[CountKey, int]:
    t = _MONTHLY
    cols = [t.c.month, *(t.c[c] for c in _KEY_COLUMNS), t.c.n]
    return {
        (r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])): int(r[8])
        for r in session.execute(select(*cols))
        if r[8]
    }


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
        e.c.level,
        e.c.counted,
    ]
    daily = select(e.c.local_day, *dims, func.count()).group_by(e.c.local_day, *dims)
    d = _DAILY
    session.execute(d.insert().from_select(["day", *_KEY_COLUMNS, "n"], daily))
    dialect = session.get_bind().dialect.name
    month_expr: ColumnElement[Any]
    if dialect == "sqlite":
        month_expr = func.date(d.c.day, "start of month")
    else:
        month_expr = func.cast(func.date_trunc("month", d.c.day), d.c.day.type)
    mdims = [month_expr, *(d.c[c] for c in _KEY_COLUMNS)]
    monthly = select(*mdims, func.sum(d.c.n)).group_by(*mdims)
    session.execute(_MONTHLY.insert().from_select(["month", *_KEY_COLUMNS, "n"], monthly))
