"""The API calls the dashboard makes for one hall and 2026Q4, and how bench/server_dashboard.py
times them: each call in-process (ASGI test client) and, as its floor, the SQL it ran, replayed
on a raw driver connection. Not a benchmark: ``make bench`` runs it as a no-op."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

HALL, WINDOW, STAFF = "H00", "A00", "000"
QUARTER, MONTH, TODAY = "2026Q4", "2026-11", "2026-11-23"
BUDGET_MS = 100.0  # issue #19: every dashboard API call under 100 ms at 10M evaluations
TRIVIAL = ("trivial: /auth/me", "/auth/me")


def calls() -> list[tuple[str, str]]:
    """(label, path under /api/v1) of every call the dashboard's views make (as the views of
    server/dashboard/static request them), each once."""
    h, q = f"hall={HALL}", f"period={QUARTER}"
    w, st = f"window={WINDOW}", f"staff={STAFF}"
    days = (("quarter", q), ("today", f"period={TODAY}"), ("month", f"period={MONTH}"))
    out = [("/halls", "/halls"), ("/alerts unread", f"/alerts?unread=1&limit=20&{h}")]
    out += [(f"/scores {name}", f"/scores?{h}&{p}") for name, p in days]
    out += [
        ("/rankings by window", f"/rankings?by=window&{h}&{q}"),
        ("/rankings by staff", f"/rankings?by=staff&{h}&{q}"),
    ]
    out += [(f"/trends {g}", f"/trends?{h}&{q}&grain={g}") for g in ("day", "week", "month")]
    out.append(("/heatmap", f"/heatmap?{h}&{q}"))
    out += [(f"/scores window {name}", f"/scores?{h}&{w}&{p}") for name, p in days]
    grains = ("day", "week", "month")
    out += [(f"/trends window {g}", f"/trends?{h}&{w}&{q}&grain={g}") for g in grains]
    out.append(("/rankings by staff, window", f"/rankings?by=staff&{h}&{w}&{q}"))
    out += [(f"/scores staff {name}", f"/scores?{h}&{st}&{p}") for name, p in days]
    out.append(("/trends staff day", f"/trends?{h}&{st}&{q}&grain=day"))
    out.append(("/rankings by window, staff", f"/rankings?by=window&{h}&{st}&{q}"))
    out += [
        ("/bad-ratings first page", f"/bad-ratings?{h}&{q}&limit=50&offset=0"),
        ("/sms/stats today", f"/sms/stats?{h}&period={TODAY}"),
        ("/sms/stats by window", f"/sms/stats?{h}&{q}&by=window"),
        ("/callbacks/stats", f"/callbacks/stats?{h}&{q}"),
        ("/cases/figures", f"/cases/figures?{h}&{q}"),
        ("/devices/health", f"/devices/health?{h}"),
    ]
    return [TRIVIAL, *out]


@dataclass
class Recorder:
    """The statements an engine sends to its driver while ``on``."""

    engine: Engine
    on: bool = False
    seen: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        event.listen(self.engine, "before_cursor_execute", self._record)

    def _record(
        self, _conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool
    ) -> None:
        if self.on and not many:
            self.seen.append((sql, params))

    def capture(self, fn: Callable[[], Any]) -> list[tuple[str, Any]]:
        self.seen, self.on = [], True
        try:
            fn()
        finally:
            self.on = False
        return self.seen


def is_read(sql: str) -> bool:
    return sql.lstrip().split(None, 1)[0].upper() in ("SELECT", "WITH")


@dataclass
class Floor:
    ms: float  # the sum of the statements' medians
    statements: int
    slowest_ms: float
    slowest_sql: str
    slowest_params: Any


def replay(engine: Engine, statements: list[tuple[str, Any]], repeat: int) -> Floor:
    """Run each read statement ``repeat`` times (after one warm-up) on a raw driver connection,
    fetching every row; the floor is the sum of their medians."""
    reads = [(sql, p) for sql, p in statements if is_read(sql)]
    medians: list[float] = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for sql, params in reads:
            samples = []
            for k in range(repeat + 1):
                t = time.perf_counter()
                cur.execute(sql, params)
                cur.fetchall()
                if k:
                    samples.append(time.perf_counter() - t)
            medians.append(statistics.median(samples) * 1000)
        raw.rollback()
    finally:
        raw.close()
    if not reads:
        return Floor(0.0, 0, 0.0, "", None)
    i = max(range(len(reads)), key=medians.__getitem__)
    return Floor(sum(medians), len(reads), medians[i], reads[i][0], reads[i][1])


def explain(engine: Engine, sql: str, params: Any) -> str:
    """The query plan of one statement: EXPLAIN QUERY PLAN (SQLite) or EXPLAIN ANALYZE."""
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(prefix + sql, params)
        rows = cur.fetchall()
        raw.rollback()
    finally:
        raw.close()
    if sqlite:
        return "\n".join(f"{'  ' * (r[1] > 0)}{r[3]}" for r in rows)
    return "\n".join(r[0] for r in rows)


@dataclass
class Timing:
    label: str
    path: str
    status: int
    ms: float  # median of the runs after the first
    first_ms: float  # the first call (cold memo and caches)
    floor: Floor | None
    size: int  # bytes of the answer


def time_call(
    client: Any, headers: dict[str, str], recorder: Recorder, label: str, path: str, repeat: int
) -> Timing:
    def get() -> Any:
        return client.get("/api/v1" + path, headers=headers)

    t = time.perf_counter()
    r = get()
    first = (time.perf_counter() - t) * 1000
    if r.status_code != 200:
        return Timing(label, path, r.status_code, 0.0, first, None, len(r.content))
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = get()
        samples.append(time.perf_counter() - t)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
    statements = recorder.capture(get)
    floor = replay(recorder.engine, statements, repeat)
    return Timing(label, path, 200, statistics.median(samples) * 1000, first, floor, len(r.content))
