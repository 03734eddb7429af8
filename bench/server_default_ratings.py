"""The system default rating job (server/online/defaults.py) over many unrated tickets, next to
a plain executemany of the same number of evaluation rows into the same table.

    .venv/bin/python bench/server_default_ratings.py [--n 100000] [--db sqlite|postgresql|both]

A fresh, migrated database holds one hall, 40 windows and staff, and ``--n`` finished tickets
spread over 92 ticket days, a share ``--rated`` of them already rated on the evaluator; the job
then runs once (it creates a default for every unrated ticket) and once more (it creates
nothing: the re-run's cost). The floor is sqlite3/psycopg executemany of ``--n`` rows in the
columns the store writes, one commit per 2,000 rows (the job's batch), into a second fresh
database, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.server_ingest import HALL_TZ, drop_db, fresh_db  # noqa: E402
from bench.server_report import update_section  # noqa: E402
from server.db import make_engine, make_sessionmaker  # noqa: E402
from server.ingest.rows import INSERT_COLUMNS  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.online.defaults import CHUNK, run_defaults  # noqa: E402
from server.online.policy import DefaultRatingPolicy  # noqa: E402
from server.policy import Policy  # noqa: E402

TODAY = date(2026, 11, 30)
DAYS = 92
WINDOWS = 40


def ticket_day(i: int) -> date:
    return TODAY - timedelta(days=7 + i % DAYS)


def seed(url: str, n: int, rated: float) -> None:
    """A hall, its windows and staff, ``n`` finished tickets, the share ``rated`` of them rated."""
    eng = sa.create_engine(url)
    now = datetime.now(UTC)
    with eng.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO halls (code, name, division_code, created_at) "
                "VALUES ('H1', 'H1', '', CURRENT_TIMESTAMP)"
            )
        )
        for w in range(WINDOWS):  # ids 1..40
            p = {"c": f"A{w:02d}", "s": f"{1000 + w}"}
            c.execute(
                sa.text(
                    "INSERT INTO windows (hall_id, code, name, active, auto_created) "
                    "VALUES (1, :c, '', true, false)"
                ),
                p,
            )
            c.execute(
                sa.text(
                    "INSERT INTO staff (hall_id, number, name, active, auto_created) "
                    "VALUES (1, :s, '', true, false)"
                ),
                p,
            )
        tickets = sa.table(
            "tickets",
            *(
                sa.column(name)
                for name in (
                    "hall_id",
                    "key",
                    "number",
                    "window_id",
                    "staff_id",
                    "finished_at",
                    "local_day",
                    "source",
                    "created_at",
                    "updated_at",
                )
            ),
        )
        rows = []
        for i in range(n):
            day = ticket_day(i)
            number = f"A{i // DAYS:05d}"
            rows.append(
                {
                    "hall_id": 1,
                    "key": f"H1:{day}:{number}",
                    "number": number,
                    "window_id": 1 + i % WINDOWS,
                    "staff_id": 1 + i % WINDOWS,
                    "finished_at": datetime.combine(day, datetime.min.time(), HALL_TZ)
                    + timedelta(hours=10),
                    "local_day": day,
                    "source": "bench",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        for i in range(0, n, 10_000):
            c.execute(sa.insert(tickets), rows[i : i + 10_000])
    eng.dispose()
    if rated:
        picked = [i for i in range(n) if int((i + 1) * rated) > int(i * rated)]
        votes = [(i, ticket_day(i), f"A{i // DAYS:05d}") for i in picked]
        floor_rows(url, [f"EV:{i}" for i, _, _ in votes], [(d, t) for _, d, t in votes], True)


def floor_rows(url: str, keys: list[str], slots: list[tuple[date, str]], counted: bool) -> float:
    """executemany of one evaluation row per key (INSERT_COLUMNS), one commit per CHUNK;
    returns the seconds it took."""
    sqlite = url.startswith("sqlite")
    now = datetime.now(UTC)
    stamp: Any = now.replace(tzinfo=None).isoformat(" ") if sqlite else now
    rows = []
    for i, (key, (day, number)) in enumerate(zip(keys, slots, strict=True)):
        at = datetime.combine(day, datetime.min.time(), HALL_TZ) + timedelta(hours=11)
        occurred: Any = at.astimezone(UTC).replace(tzinfo=None).isoformat(" ") if sqlite else at
        w = 1 + i % WINDOWS
        values = {
            "hall_id": 1,
            "key": key,
            "rev": 0,
            "channel": "evaluator" if counted else "system_default",
            "level": "satisfied" if counted else "basically_satisfied",
            "occurred_at": occurred,
            "local_day": day.isoformat() if sqlite else day,
            "time_source": "device" if counted else "server",
            "department_id": None,
            "window_id": w,
            "window_code": None,
            "staff_id": w,
            "device_id": None,
            "matter_id": None,
            "ticket": number,
            "attribution": "attributed",
            "flags": "",
            "excluded": False,
            "counted": True,
            "source": "bench",
            "gateway_id": None,
            "ticket_day": day.isoformat() if sqlite else day,
            "late": False,
            "comment": None,
            "reasons": "",
            "created_at": stamp,
            "updated_at": stamp,
        }
        rows.append(tuple(values[c] for c in INSERT_COLUMNS))
    mark = "?" if sqlite else "%s"
    sql = (
        f"INSERT INTO evaluations ({', '.join(INSERT_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(INSERT_COLUMNS))})"
    )
    eng = sa.create_engine(url)
    raw: Any = eng.raw_connection()
    try:
        cur = raw.cursor()
        if sqlite:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
        raw.commit()
        start = time.perf_counter()
        for i in range(0, len(rows), CHUNK):
            cur.executemany(sql, rows[i : i + CHUNK])
            raw.commit()
        elapsed = time.perf_counter() - start
    finally:
        raw.close()
        eng.dispose()
    return elapsed


def run_job(url: str) -> tuple[float, float, int, int]:
    """(seconds of the first run, seconds of the re-run, created, already defaulted)."""
    policy = Policy(default_rating=DefaultRatingPolicy(enabled=True, lookback_days=DAYS + 7))
    eng = make_engine(url)
    sessions = make_sessionmaker(eng)
    try:
        with sessions() as s:
            start = time.perf_counter()
            first = run_defaults(s, policy, TODAY)
            took = time.perf_counter() - start
        with sessions() as s:
            start = time.perf_counter()
            again = run_defaults(s, policy, TODAY)
            rerun = time.perf_counter() - start
        assert again.created == 0 and again.already_defaulted == first.created, again
        assert first.due == again.due and not first.rejected, first
    finally:
        eng.dispose()
    return took, rerun, first.created, again.already_defaulted


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--rated", type=float, default=0.3, help="share already rated (0..1)")
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = ap.parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    lines = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for kind in kinds:
            url = fresh_db(kind, tmp)
            try:
                upgrade(url)
                seed(url, args.n, args.rated)
                took, rerun, created, _ = run_job(url)
            finally:
                drop_db(url)
            floor_url = fresh_db(kind, tmp)
            try:
                upgrade(floor_url)
                seed(floor_url, 0, 0)
                slots = [(ticket_day(i), f"A{i // DAYS:05d}") for i in range(created)]
                floor = floor_rows(
                    floor_url, [f"default:{i}" for i in range(created)], slots, False
                )
            finally:
                drop_db(floor_url)
            line = (
                f"| {kind} | {args.n:,} | {created:,} | **{took:.1f}** ({created / took:,.0f}/s) "
                f"| {rerun:.1f} | {floor:.1f} ({created / floor:,.0f}/s) | {floor / took:.0%} |"
            )
            print(line, flush=True)
            lines.append(line)
    if not args.no_write:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        body = "\n".join(
            [
                f"`bench/server_default_ratings.py --n {args.n} --rated {args.rated}`, {stamp}, "
                f"{os.cpu_count()} cores, Python {platform.python_version()}. Tickets: finished, "
                f"over {DAYS} ticket days, 40 windows, a share `--rated` already rated on the "
                "evaluator. Ours: `run_defaults` creating a default for every unrated ticket "
                f"(ingest service, aggregates, one commit per {CHUNK:,} tickets), then the re-run "
                "that finds them all defaulted. Floor: executemany of as many evaluation rows "
                "into the same table of a fresh database, one commit per batch.",
                "",
                "| database | tickets | created | ours: first run (s) | re-run (s) | floor (s) "
                "| floor/ours |",
                "|---|---|---|---|---|---|---|",
                *lines,
            ]
        )
        update_section("Default rating job (issue #17)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
