"""Latency of a quarter's ranking of every window, at 1M and 10M evaluations, SQLite and PostgreSQL.

    .venv/bin/python bench/server_ranking.py [--sizes 1000000 10000000] [--db sqlite postgresql]

Loads a year of synthetic evaluations (400 windows in 10 halls, four channels, 2% flagged) straight
into the evaluations table, rebuilds the aggregate tables from them (server.aggregates.rebuild), and
times GET /api/v1/rankings?period=2026Q4 in-process (ASGI, no network). Next to it, in the same run:
the bare aggregate SQL the endpoint runs (the floor for this design), and the same counts computed
from the raw rows with one GROUP BY (what the ranking would cost without the aggregate tables).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.server_report import update_section  # noqa: E402
from server.aggregates import Filters, grouped_counts, rebuild  # noqa: E402
from server.db import make_engine, make_sessionmaker  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.models import Department, Hall, Staff, User, Window  # noqa: E402
from server.security import hash_password  # noqa: E402

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


def fresh_db(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / f'rank-{uuid.uuid4().hex[:8]}.db'}"
    name = "hallrate_rank_" + uuid.uuid4().hex[:10]
    eng = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_db(url: str) -> None:
    if url.startswith("postgresql"):
        eng = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        eng.dispose()


def organisation(factory: Any) -> list[tuple[int, int, int, list[int]]]:
    """(hall_id, window_id, department_id, staff ids) for every window."""
    out = []
    with factory() as s:
        s.add(User(username="bench", password_hash=hash_password("bench"), role="city_admin"))
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


def load(engine: Any, n: int, windows: list[tuple[int, int, int, list[int]]]) -> float:
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
    if not sqlite:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(sa.text("ANALYZE"))
    return time.perf_counter() - start


def timed(fn: Any, repeat: int) -> float:
    fn()  # warm the cache and the statement cache
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def measure(kind: str, n: int, tmp: Path) -> dict[str, Any]:
    url = fresh_db(kind, tmp)
    try:
        upgrade(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        windows = organisation(factory)
        load_s = load(engine, n, windows)
        t = time.perf_counter()
        with factory() as s:
            rebuild(s)
            s.commit()
        if kind == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(sa.text("ANALYZE"))
        rebuild_s = time.perf_counter() - t
        with factory() as s:
            monthly_rows = s.execute(
                sa.text("SELECT count(*) FROM evaluation_monthly_counts")
            ).scalar()

        from fastapi.testclient import TestClient

        from server.app import create_app
        from server.config import Settings

        app = create_app(
            Settings(database_url=url, data_dir=tmp, secret_key="bench-secret-bench-secret")  # type: ignore[arg-type]
        )
        with TestClient(app) as client:
            token = client.post(
                "/api/v1/auth/token", json={"username": "bench", "password": "bench"}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}

            def api() -> None:
                r = client.get("/api/v1/rankings?period=2026Q4", headers=headers)
                assert r.status_code == 200 and len(r.json()["items"]) == len(windows)

            api_ms = timed(api, 15)

        q_start, q_end = date(2026, 10, 1), date(2027, 1, 1)

        def aggregate_sql() -> None:
            with factory() as s:
                grouped_counts(s, q_start, q_end, Filters(), by="window")

        def raw_group_by() -> None:
            with factory() as s:
                s.execute(
                    sa.text(
                        "SELECT window_id, channel, level, counted, count(*) FROM evaluations "
                        "WHERE local_day >= :a AND local_day < :b "
                        "GROUP BY window_id, channel, level, counted"
                    ),
                    {"a": q_start, "b": q_end},
                ).all()

        agg_ms = timed(aggregate_sql, 15)
        raw_ms = timed(raw_group_by, 3)
        engine.dispose()
        app.state.engine.dispose()
        return {
            "db": kind,
            "n": n,
            "load_s": load_s,
            "rebuild_s": rebuild_s,
            "monthly_rows": monthly_rows,
            "api_ms": api_ms,
            "agg_ms": agg_ms,
            "raw_ms": raw_ms,
        }
    finally:
        drop_db(url)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for n in args.sizes:
            for kind in args.db:
                r = measure(kind, n, Path(tmpdir))
                line = (
                    f"| {r['db']} | {r['n']:,} | {HALLS * WINDOWS_PER_HALL} | "
                    f"**{r['api_ms']:.1f}** | {r['agg_ms']:.1f} | {r['raw_ms']:,.0f} | "
                    f"{r['monthly_rows']:,} | {r['load_s']:.0f} s + {r['rebuild_s']:.0f} s |"
                )
                print(line, flush=True)
                lines.append(line)
                if not args.no_write:  # after each row, so an interrupted run keeps its figures
                    write(args.sizes, lines)
    return 0


def write(sizes: list[int], lines: list[str]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(
        [
            f"`bench/server_ranking.py --sizes {' '.join(map(str, sizes))}`, {stamp}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}. "
            f"A year of evaluations over {HALLS * WINDOWS_PER_HALL} windows ({HALLS} halls, "
            f"{STAFF_PER_WINDOW} staff per window, four channels, 2% flagged). "
            "Median of 15 runs after one warm-up. Goal: ranking < 50 ms at 10M.",
            "",
            "- *ours*: `GET /api/v1/rankings?period=2026Q4` in-process (ASGI test client, no "
            "network): aggregate query, score of every window (exact fractions, memoised by "
            "counts), JSON.",
            "- *floor*: the bare aggregate SQL that endpoint runs.",
            "- *raw GROUP BY*: the same counts from the raw evaluation rows, i.e. the "
            "ranking without the aggregate tables (median of 3).",
            "",
            "| database | evaluations | windows | ours (ms) | floor: aggregate SQL (ms) | "
            "raw GROUP BY (ms) | monthly cells | load + rebuild |",
            "|---|---|---|---|---|---|---|---|",
            *lines,
        ]
    )
    update_section("Quarter ranking of every window", body)


if __name__ == "__main__":
    raise SystemExit(main())
