"""A year of synthetic evaluations for the server benchmarks (bench/server_ranking.py,
bench/server_dashboard.py): 400 windows in 10 halls, four channels, 2% flagged, loaded straight
into the evaluations table by SQL the database runs itself, in a fresh SQLite file or PostgreSQL
database. Not a benchmark: ``make bench`` runs it as a no-op."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from server.models import Department, Hall, Staff, User, Window
from server.security import hash_password

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
HALLS, WINDOWS_PER_HALL, STAFF_PER_WINDOW, DEPTS_PER_HALL = 10, 40, 3, 8
CHANNELS = ["evaluator"] * 14 + ["ballot_box"] + ["sms"] * 3 + ["phone"] * 2
LEVELS = (
    ["very_satisfied"] * 6
    + ["satisfied"] * 10
    + ["basically_satisfied"] * 2
    + [
        "dissatisfied",
        "very_dissatisfied",
    ]
)
COLUMNS = (
    "hall_id, key, rev, channel, level, occurred_at, local_day, time_source, department_id, "
    "window_id, staff_id, device_id, matter_id, ticket, attribution, flags, excluded, counted, "
    "source, created_at, updated_at"
)
USER = ("bench", "bench")  # a city_admin account: username, password
# (hall_id, window_id, department_id, staff ids) of every window
Windows = list[tuple[int, int, int, list[int]]]


def fresh_db(kind: str, tmp: Path, prefix: str = "rank") -> str:
    """The URL of a new empty database: a SQLite file in ``tmp`` or a PostgreSQL database."""
    if kind == "sqlite":
        return f"sqlite:///{tmp / f'{prefix}-{uuid.uuid4().hex[:8]}.db'}"
    name = f"hallrate_{prefix}_" + uuid.uuid4().hex[:10]
    eng = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_db(url: str) -> None:
    """Drop a database made by ``fresh_db`` (a SQLite file and its WAL files are removed)."""
    if url.startswith("postgresql"):
        eng = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        eng.dispose()
    else:
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm", "-journal"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


def organisation(factory: Any) -> Windows:
    """The account ``USER``, the halls H00.., their departments, windows A00.. and staff."""
    out = []
    with factory() as s:
        s.add(User(username=USER[0], password_hash=hash_password(USER[1]), role="city_admin"))
        for h in range(HALLS):
            hall = Hall(code=f"H{h:02d}", name=f"hall {h}", division_code="371002")
            s.add(hall)
            s.flush()
            depts = [
                Department(hall_id=hall.id, code=f"D{d}", name="") for d in range(DEPTS_PER_HALL)
            ]
            s.add_all(depts)
            s.flush()
            for w in range(WINDOWS_PER_HALL):
                dept = depts[w % DEPTS_PER_HALL]
                win = Window(hall_id=hall.id, code=f"A{w:02d}", department_id=dept.id)
                s.add(win)
                s.flush()
                staff = [
                    Staff(hall_id=hall.id, number=f"{w:02d}{k}", department_id=dept.id)
                    for k in range(STAFF_PER_WINDOW)
                ]
                s.add_all(staff)
                s.flush()
                out.append((hall.id, win.id, dept.id, [st.id for st in staff]))
        s.commit()
    return out


def _expr_sql(n: int, total: int, offset: int, sqlite: bool) -> str:
    """One SELECT producing n evaluation rows in the database itself (Python is too slow for
    10M). Channel, level, window and flag come from multiplicative hashes of the row number."""
    step = 365 * 86400 / total
    i = f"(s.i + {offset})"
    channel = (
        "CASE "
        + " ".join(f"WHEN ({i} * 31) % 20 = {k} THEN '{c}'" for k, c in enumerate(CHANNELS))
        + " END"
    )
    level = (
        "CASE "
        + " ".join(f"WHEN (({i} / 7) * 17) % 20 = {k} THEN '{lv}'" for k, lv in enumerate(LEVELS))
        + " END"
    )
    if sqlite:
        series = (
            f"(WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) "
            "SELECT i FROM c) AS s"
        )
        ts = f"datetime('2025-12-31 16:00:00', '+' || CAST({i} * {step} AS INTEGER) || ' seconds')"
        day = f"date({ts}, '+8 hours')"
        false, flagged_counted, now = (
            "0",
            f"CASE WHEN {i} % 50 = 0 THEN 0 ELSE 1 END",
            "datetime('now')",
        )
    else:
        series = f"generate_series(1::bigint, {n}) AS s(i)"
        ts = f"(timestamptz '2025-12-31 16:00:00+00' + {i} * interval '{step} seconds')"
        day = f"(({ts}) AT TIME ZONE 'Asia/Shanghai')::date"
        false, flagged_counted, now = "false", f"({i} % 50 <> 0)", "now()"
    return (
        f"INSERT INTO evaluations ({COLUMNS}) SELECT w.hall_id, 'k' || {i}, 0, {channel}, {level}, "
        f"{ts}, {day}, 'device', w.dept_id, w.window_id, w.staff0 + ({i} % {STAFF_PER_WINDOW}), "
        f"NULL, NULL, NULL, 'attributed', CASE WHEN {i} % 50 = 0 THEN 'misuse' ELSE '' END, "
        f"{false}, {flagged_counted}, 'bench', {now}, {now} "
        f"FROM {series} JOIN bench_windows w ON w.g = ({i} * 7919) % {HALLS * WINDOWS_PER_HALL}"
    )


def load(engine: Any, n: int, windows: Windows) -> float:
    """Insert ``n`` evaluations spread evenly over 2026 (hall-local); seconds taken."""
    sqlite = engine.dialect.name == "sqlite"
    start = time.perf_counter()
    with engine.begin() as c:
        c.execute(
            sa.text(
                "CREATE TABLE bench_windows (g INTEGER, hall_id INTEGER, "
                "window_id INTEGER, dept_id INTEGER, staff0 INTEGER)"
            )
        )
        c.execute(
            sa.text("INSERT INTO bench_windows VALUES (:g, :h, :w, :d, :s)"),
            [
                {"g": g, "h": h, "w": w, "d": d, "s": st[0]}
                for g, (h, w, d, st) in enumerate(windows)
            ],
        )
        chunk = 1_000_000
        for lo in range(0, n, chunk):
            sql = _expr_sql(min(chunk, n - lo), n, lo, sqlite)
            if not sqlite:
                sql = sql.replace("%", "%%")  # psycopg placeholders
            c.exec_driver_sql(sql)
        c.execute(sa.text("DROP TABLE bench_windows"))
    analyze(engine)
    return time.perf_counter() - start


def analyze(engine: Any) -> None:
    """Fresh planner statistics on PostgreSQL (as autovacuum would have them by now)."""
    if engine.dialect.name != "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(sa.text("ANALYZE"))


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """The median of ``repeat`` runs in milliseconds, after one warm-up run."""
    fn()  # warm the cache and the statement cache
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000
