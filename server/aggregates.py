"""Maintain the incremental evaluation counts (see docs/adr/0005-aggregates.md and
docs/adr/0023-hourly-grain.md); reading them is server/aggregates_read.py.

Every change to an evaluation's counted state or dimensions goes through ``Deltas`` and is
applied with one upsert per grain (daily, monthly, hourly), inside the caller's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Table,
    case,
    delete,
    extract,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.orm import Session

from server.aggregates_read import (
    Counts,
    Filters,
    GroupBy,
    _spans,
    counts,
    grouped_counts,
    per_day,
    weekday_hour_cells,
)
from server.models import DailyCount, Evaluation, HourlyCount, MonthlyCount
from server.models.aggregates import LEVEL_COLUMNS
from server.models.evaluations import LEVELS
from server.periods import DEFAULT_TZ

__all__ = [
    "CountKey",
    "Counts",
    "DeltaKey",
    "Deltas",
    "Filters",
    "GroupBy",
    "HourKey",
    "_spans",
    "count_key",
    "counts",
    "grouped_counts",
    "local_hour",
    "per_day",
    "rebuild",
    "recompute",
    "recompute_hourly",
    "stored_daily",
    "stored_hourly",
    "stored_monthly",
    "weekday_hour_cells",
]

# Narrow form of one count, used by tests and repair:
# (day, hall_id, department_id, window_id, staff_id, channel, level, counted)
CountKey = tuple[date, int, int, int, int, str, str, bool]
# What ``Deltas`` counts: a CountKey and the hall-local hour (0..23) of occurred_at.
DeltaKey = tuple[date, int, int, int, int, str, str, bool, int]
# The hourly grain in narrow form: (hall_id, day, hour, channel, level, counted)
HourKey = tuple[int, date, int, str, str, bool]
# A stored row's key: (period, hall_id, department_id, window_id, staff_id, channel, counted)
CellKey = tuple[date, int, int, int, int, str, bool]
# A stored hourly row's key: (hall_id, day, hour, channel, counted)
HourCellKey = tuple[int, date, int, str, bool]

_DAILY = cast(Table, DailyCount.__table__)
_MONTHLY = cast(Table, MonthlyCount.__table__)
_HOURLY = cast(Table, HourlyCount.__table__)
_DIMS = ("hall_id", "department_id", "window_id", "staff_id", "channel", "counted")
_HOUR_KEYS = ("hall_id", "day", "hour", "channel", "counted")
_LEVEL_INDEX = {level: i for i, level in enumerate(LEVELS)}


def local_hour(occurred_at: datetime | str, zone: ZoneInfo) -> int:
    """The hour (0..23) of an instant in ``zone``. A naive datetime, or SQLite's stored text
    ("YYYY-MM-DD HH:MM:SS.ffffff", read at driver level), is UTC."""
    at = datetime.fromisoformat(occurred_at) if isinstance(occurred_at, str) else occurred_at
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).hour


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
    """Count changes (cell -> ±n) of one transaction. ``tz``: the policy time zone, in which
    the hourly grain's hour of a row's ``occurred_at`` is taken (every row given to ``add`` and
    ``move`` carries ``occurred_at``); the day is always the row's stored ``local_day``."""

    tz: str = DEFAULT_TZ
    cells: dict[DeltaKey, int] = field(default_factory=lambda: defaultdict(int))
    zone: ZoneInfo = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.tz)

    def key(self, row: Mapping[str, Any]) -> DeltaKey:
        return (*count_key(row), local_hour(row["occurred_at"], self.zone))

    def add(self, row: Mapping[str, Any], sign: int = 1) -> None:
        self.cells[self.key(row)] += sign

    def move(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        old_key, new_key = self.key(old), self.key(new)
        if old_key != new_key:
            self.cells[old_key] -= 1
            self.cells[new_key] += 1

    def apply(self, session: Session) -> None:
        daily: dict[CellKey, list[int]] = {}
        monthly: dict[CellKey, list[int]] = {}
        hourly: dict[HourCellKey, list[int]] = {}
        for (
            day,
            hall,
            dept,
            window,
            staff,
            channel,
            level,
            counted,
            hour,
        ), n in self.cells.items():
            if not n:
                continue
            i = _LEVEL_INDEX[level]
            daily.setdefault((day, hall, dept, window, staff, channel, counted), [0] * 5)[i] += n
            mkey = (day.replace(day=1), hall, dept, window, 0, channel, counted)
            monthly.setdefault(mkey, [0] * 5)[i] += n
            hourly.setdefault((hall, day, hour, channel, counted), [0] * 5)[i] += n
        self.cells.clear()
        grains: list[tuple[Table, tuple[str, ...], Mapping[Any, list[int]]]] = [
            (_DAILY, ("day", *_DIMS), daily),
            (_MONTHLY, ("month", *_DIMS), monthly),
            (_HOURLY, _HOUR_KEYS, hourly),
        ]
        for table, keys, cells in grains:
            changed = {k: v for k, v in cells.items() if any(v)}
            if changed:
                _upsert(session, table, keys, changed)


def _upsert(
    session: Session,
    table: Table,
    keys: tuple[str, ...],
    cells: Mapping[tuple[Any, ...], list[int]],
) -> None:
    # The same ON CONFLICT statement works on SQLite (>= 3.24) and PostgreSQL; sent as one
    # driver-level executemany because a batch can touch a thousand cells.
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    name = table.name
    sql = (
        f"INSERT INTO {name} ({', '.join(keys + LEVEL_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * (len(keys) + 5))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
        + ", ".join(f"{c} = {name}.{c} + excluded.{c}" for c in LEVEL_COLUMNS)
    )
    params: list[tuple[Any, ...]]
    if conn.dialect.name == "sqlite":
        # Dates as "YYYY-MM-DD", booleans as 0/1, as the column types would write them.
        params = [(*map(_sqlite_value, k), *v) for k, v in cells.items()]
    else:
        params = [(*k, *v) for k, v in cells.items()]
    conn.exec_driver_sql(sql, params)
    # Cells that fell to zero carry no information; dropping them keeps the tables small.
    if any(n < 0 for v in cells.values() for n in v):
        session.execute(delete(table).where(*(table.c[c] == 0 for c in LEVEL_COLUMNS)))


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


# ---------------------------------------------------------------- checking and repair


def recompute(rows: Iterable[Mapping[str, Any]]) -> dict[CountKey, int]:
    """The narrow daily counts computed from raw evaluation rows (the reference for tests)."""
    cells: dict[CountKey, int] = defaultdict(int)
    for row in rows:
        cells[count_key(row)] += 1
    return dict(cells)


def recompute_hourly(rows: Iterable[Mapping[str, Any]], tz: str = DEFAULT_TZ) -> dict[HourKey, int]:
    """The narrow hourly counts computed from raw evaluation rows (the reference for tests)."""
    zone = ZoneInfo(tz)
    cells: dict[HourKey, int] = defaultdict(int)
    for row in rows:
        hour = local_hour(row["occurred_at"], zone)
        key = (row["hall_id"], row["local_day"], hour, row["channel"], row["level"])
        cells[(*key, bool(row["counted"]))] += 1
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


def stored_hourly(session: Session) -> dict[HourKey, int]:
    """The hourly grain in narrow form (zero counts left out)."""
    t = _HOURLY
    out: dict[HourKey, int] = {}
    for hall, day, hour, channel, counted, *ns in session.execute(
        select(*(t.c[c] for c in _HOUR_KEYS + LEVEL_COLUMNS))
    ):
        for level, n in zip(LEVELS, ns, strict=True):
            if n:
                out[(hall, day, hour, channel, level, bool(counted))] = int(n)
    return out


def rebuild(session: Session, tz: str = DEFAULT_TZ) -> None:
    """Recompute every grain from the raw evaluations (repair, or after a bulk load); ``tz``
    is the policy time zone the hourly grain's hours are taken in (`hallrate db
    rebuild-aggregates` passes HALLRATE_TZ)."""
    e = Evaluation.__table__
    sqlite = session.get_bind().dialect.name == "sqlite"
    if not sqlite:
        # Writers of evaluations wait until the commit (SQLite: the caller's BEGIN IMMEDIATE),
        # so no change lands between the recount and the commit.
        session.execute(text("LOCK TABLE evaluations IN SHARE MODE"))
    for model in (DailyCount, MonthlyCount, HourlyCount):
        session.execute(delete(model))
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
    if sqlite:
        month_expr = func.date(d.c.day, "start of month")
    else:
        month_expr = func.cast(func.date_trunc("month", d.c.day), d.c.day.type)
    mdims = [month_expr, d.c.hall_id, d.c.department_id, d.c.window_id, d.c.channel, d.c.counted]
    monthly = select(
        mdims[0], *mdims[1:4], literal(0), *mdims[4:], *(func.sum(d.c[c]) for c in LEVEL_COLUMNS)
    ).group_by(*mdims)
    session.execute(_MONTHLY.insert().from_select(["month", *_DIMS, *LEVEL_COLUMNS], monthly))
    if sqlite:
        _rebuild_hourly_sqlite(session, tz, levels)
    else:
        local = func.timezone(tz, e.c.occurred_at)  # the local wall time of a timestamptz
        hour = func.cast(extract("hour", local), d.c.hall_id.type)
        hdims = [e.c.hall_id, e.c.local_day, hour, e.c.channel, e.c.counted]
        hourly = select(*hdims, *levels).group_by(*hdims)
        session.execute(_HOURLY.insert().from_select([*_HOUR_KEYS, *LEVEL_COLUMNS], hourly))


_QUARTER = timedelta(minutes=15)


def _rebuild_hourly_sqlite(session: Session, tz: str, levels: list[Any]) -> None:
    """SQLite has no time zones: group by the UTC quarter hour of the stored text in SQL, then
    take each quarter's local hour in Python (every zone's offsets and transitions since the
    1970s are whole quarter hours, so a quarter lies in one local hour; checked)."""
    e = Evaluation.__table__
    utc_hour = func.substr(e.c.occurred_at, 1, 13)  # "YYYY-MM-DD HH"
    quarter = func.cast(func.substr(e.c.occurred_at, 15, 2), e.c.hall_id.type) // 15
    dims = [e.c.hall_id, e.c.local_day, utc_hour, quarter, e.c.channel, e.c.counted]
    zone = ZoneInfo(tz)
    hours: dict[str, int] = {}
    cells: dict[HourCellKey, list[int]] = {}
    for hall, day, hour_text, q, channel, counted, *ns in session.execute(
        select(*dims, *levels).group_by(*dims)
    ):
        q = int(q)
        qkey = f"{hour_text}:{q}"
        if (hour := hours.get(qkey)) is None:
            first = datetime.fromisoformat(f"{hour_text}:00").replace(tzinfo=UTC) + q * _QUARTER
            hour = local_hour(first, zone)
            if local_hour(first + _QUARTER - timedelta(microseconds=1), zone) != hour:
                raise ValueError(f"{tz}: a local hour changes inside the quarter at {first}")
            hours[qkey] = hour
        cell = cells.setdefault((hall, day, hour, channel, bool(counted)), [0] * 5)
        for i, n in enumerate(ns):
            cell[i] += int(n)
    if cells:
        _upsert(session, _HOURLY, _HOUR_KEYS, cells)
