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
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.server_report import update_section  # noqa: E402
from bench.synthetic import (  # noqa: E402
    HALLS,
    STAFF_PER_WINDOW,
    WINDOWS_PER_HALL,
    drop_db,
    fresh_db,
    load,
    organisation,
    timed,
)
from server.aggregates import Filters, grouped_counts, rebuild  # noqa: E402
from server.db import make_engine, make_sessionmaker  # noqa: E402
from server.migrate import upgrade  # noqa: E402


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
