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
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
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


def rows(n: int, windows: list[tuple[int, int, int, list[int]]], sqlite: bool) -> Any:
    rnd = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=8)
    step = 365 * 86400 / n
    now = datetime.now(UTC)
    created: Any = now.replace(tzinfo=None).isoformat(" ") if sqlite else now
    for i in range(n):
        hall_id, window_id, dept_id, staff = windows[rnd.randrange(len(windows))]
        at = start + timedelta(seconds=i * step)
        day = (at + timedelta(hours=8)).date()
        flagged = rnd.random() < 0.02
        channel = rnd.choice(CHANNELS)
        yield (
            hall_id,
            f"k{i}",
            0,
            channel,
            rnd.choice(LEVELS),
            at.replace(tzinfo=None).isoformat(" ") if sqlite else at,
            day.isoformat() if sqlite else day,
            "device",
            dept_id,
            window_id,
            rnd.choice(staff),
            None,
            None,
            None,
            "attributed",
            "misuse" if flagged else "",
            0 if sqlite else False,
            (0 if flagged else 1) if sqlite else not flagged,
            "bench",
            created,
            created,
        )


def load(url: str, n: int, windows: list[tuple[int, int, int, list[int]]]) -> float:
    start = time.perf_counter()
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("PRAGMA synchronous=OFF")
        sql = f"INSERT INTO evaluations ({COLUMNS}) VALUES ({', '.join('?' * 21)})"
        batch: list[tuple[Any, ...]] = []
        for row in rows(n, windows, sqlite=True):
            batch.append(row)
            if len(batch) == 100_000:
                conn.executemany(sql, batch)
                batch.clear()
        conn.executemany(sql, batch)
        conn.commit()
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            with conn.cursor() as cur, cur.copy(f"COPY evaluations ({COLUMNS}) FROM STDIN") as cp:
                for row in rows(n, windows, sqlite=False):
                    cp.write_row(row)
            conn.commit()
            conn.execute("ANALYZE")
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
        load_s = load(url, n, windows)
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
    lines = []
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
    if not args.no_write:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        body = "\n".join(
            [
                f"`bench/server_ranking.py --sizes {' '.join(map(str, args.sizes))}`, {stamp}, "
                f"{os.cpu_count()} cores, Python {platform.python_version()}. A year of evaluations "
                f"over {HALLS * WINDOWS_PER_HALL} windows ({HALLS} halls, {STAFF_PER_WINDOW} staff "
                "per window, four channels, 2% flagged). Median of 15 runs after one warm-up. "
                "Goal: ranking < 50 ms at 10M.",
                "",
                "- *ours*: `GET /api/v1/rankings?period=2026Q4` in-process (ASGI, no network): "
                "aggregate query, 30/30/40 score of every window in exact fractions, JSON.",
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
