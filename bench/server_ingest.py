"""HTTP batch ingest rate of the server, next to a plain executemany into the same database.

    .venv/bin/python bench/server_ingest.py [--n 100000] [--batch 1000] [--db sqlite|postgresql]
        [--unique-tickets]

Starts `python -m server.serve` on a free port against a fresh, migrated database, posts
pre-encoded batches as one gateway would, and checks every record was accepted. The floor is
sqlite3/psycopg executemany of the same rows into the same evaluations table, one commit per
batch, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.server_report import update_section  # noqa: E402
from server.migrate import upgrade  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
KEY = "bench-gateway-key-0123456789abcdef"
HALL_TZ = ZoneInfo("Asia/Shanghai")
LEVELS = ("very_satisfied", "satisfied", "satisfied", "basically_satisfied", "dissatisfied")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def records(n: int, unique_tickets: bool = False) -> list[dict[str, Any]]:
    """Device votes, 37 s apart. Tickets A000..A999 in turn: about 2,300 votes a day, so each
    ticket number is rated about twice a day and 一次一评 counts one (the others are flagged
    duplicate_ticket); ``unique_tickets``: one vote per ticket."""
    base = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    out = []
    for i in range(n):
        w = i % 40
        out.append(
            {
                "key": f"EV-A{w:02d}:b1:{i}",
                "rev": 0,
                "channel": "evaluator",
                "level": LEVELS[i % 5],
                # As the gateway sends it (attribution_types.iso): seconds, the hall's offset.
                "occurred_at": (base + timedelta(seconds=37 * i)).astimezone(HALL_TZ).isoformat(),
                "time_source": "device",
                "hall": "H1",
                "window": f"A{w:02d}",
                "ticket": f"T{i}" if unique_tickets else f"A{i % 1000:03d}",
                "staff": f"{1000 + w}",
                "device": f"EV-A{w:02d}",
                "attribution": "attributed",
                "flags": [],
                "source": "gw-bench",
            }
        )
    return out


def fresh_db(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}"
    name = "hallrate_bench_" + uuid.uuid4().hex[:10]
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


def run_server(
    recs: list[dict[str, Any]], batch: int, url: str, tmp: Path, workers: int = 1, clients: int = 1
) -> float:
    port = free_port()
    env = {
        **os.environ,
        "HALLRATE_SECRET_KEY": "bench-secret-bench-secret",
        "HALLRATE_DATA_DIR": str(tmp),
        "HALLRATE_BOOTSTRAP_GATEWAY": f"gw-bench:{KEY}:H1",
    }
    argv = [sys.executable, "-m", "server.serve", "--port", str(port), "--database-url", url]
    argv += ["--workers", str(workers)]
    log = open(tmp / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [*argv, "--log-level", "warning"], env=env, cwd=REPO, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            while True:
                try:
                    if client.get("/api/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError((tmp / "server.log").read_text())
                time.sleep(0.1)
            headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
            bodies = [
                json.dumps({"gateway": "gw-bench", "records": recs[i : i + batch]}).encode()
                for i in range(0, len(recs), batch)
            ]
            # One warm-up batch of other keys, so the first measured batch is not a cold start.
            client.post(
                "/api/v1/ingest/evaluations",
                content=json.dumps({"records": records(1)}).replace("b1", "warm").encode(),
                headers=headers,
            )

            def post_all(mine: list[bytes]) -> int:
                # One connection per client, like one gateway each.
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as own:
                    n = 0
                    for body in mine:
                        r = own.post("/api/v1/ingest/evaluations", content=body, headers=headers)
                        r.raise_for_status()
                        n += r.json()["accepted"]
                    return n

            shares = [bodies[k::clients] for k in range(clients)]
            start = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                accepted = sum(pool.map(post_all, shares))
            elapsed = time.perf_counter() - start
            assert accepted == len(recs), (accepted, len(recs))
            # Re-sending everything must add nothing.
            again = client.post("/api/v1/ingest/evaluations", content=bodies[0], headers=headers)
            assert again.json()["accepted"] == 0
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    return len(recs) / elapsed


def run_floor(recs: list[dict[str, Any]], batch: int, url: str) -> float:
    """executemany of the same rows, precomputed, into the same table: the database's own cost."""
    upgrade(url)
    eng = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO halls (code, name, division_code, created_at) "
                "VALUES ('H1', 'H1', '', CURRENT_TIMESTAMP)"
            )
        )
        for w in range(40):  # the same windows, staff and devices as ours, ids 1..40
            p = {"c": f"A{w:02d}", "s": f"{1000 + w}", "d": f"EV-A{w:02d}"}
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
            c.execute(
                sa.text(
                    "INSERT INTO devices (hall_id, code, kind, auto_created, created_at) "
                    "VALUES (1, :d, 'evaluator', false, CURRENT_TIMESTAMP)"
                ),
                p,
            )
    sqlite = url.startswith("sqlite")
    now = datetime.now(UTC)
    rows = []
    for r in recs:
        t = datetime.fromisoformat(r["occurred_at"])
        day = t.astimezone(HALL_TZ).date()
        stamp: Any = t.astimezone(UTC).replace(tzinfo=None).isoformat(" ") if sqlite else t
        created: Any = now.replace(tzinfo=None).isoformat(" ") if sqlite else now
        rows.append(
            (
                1,
                r["key"],
                0,
                r["channel"],
                r["level"],
                stamp,
                day.isoformat() if sqlite else day,
                "device",
                None,
                int(r["window"][1:]) + 1,  # A07 -> window id 8, same for staff and device
                int(r["window"][1:]) + 1,
                int(r["window"][1:]) + 1,
                None,
                r["ticket"],
                "attributed",
                "",
                0 if sqlite else False,
                1 if sqlite else True,
                "gw",
                created,
                created,
            )
        )
    cols = (
        "hall_id, key, rev, channel, level, occurred_at, local_day, time_source, "
        "department_id, window_id, staff_id, device_id, matter_id, ticket, attribution, "
        "flags, excluded, counted, source, created_at, updated_at"
    )
    mark = "?" if sqlite else "%s"
    sql = f"INSERT INTO evaluations ({cols}) VALUES ({', '.join([mark] * 21)})"
    raw: Any = eng.raw_connection()
    try:
        cur = raw.cursor()
        if sqlite:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
        raw.commit()
        start = time.perf_counter()
        for i in range(0, len(rows), batch):
            cur.executemany(sql, rows[i : i + batch])
            raw.commit()
        elapsed = time.perf_counter() - start
    finally:
        raw.close()
        eng.dispose()
    return len(rows) / elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    ap.add_argument(
        "--unique-tickets", action="store_true", help="one vote per ticket (default: about two)"
    )
    ap.add_argument(
        "--setups",
        default="1x1,2x2",
        help="server workers x concurrent gateway clients, e.g. 1x1,2x2",
    )
    args = ap.parse_args(argv)
    recs = records(args.n, args.unique_tickets)
    lines = []
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for kind in kinds:
            floor_url = fresh_db(kind, tmp)
            try:
                floor = run_floor(recs, args.batch, floor_url)
            finally:
                drop_db(floor_url)
            for setup in args.setups.split(","):
                workers, clients = (int(x) for x in setup.split("x"))
                url = fresh_db(kind, tmp)
                try:
                    upgrade(url)
                    ours = run_server(recs, args.batch, url, tmp, workers, clients)
                finally:
                    drop_db(url)
                line = (
                    f"| {kind} | {workers} | {clients} | {args.n:,} | {args.batch} | "
                    f"**{ours:,.0f}** | {floor:,.0f} | {ours / floor:.0%} |"
                )
                print(line, flush=True)
                lines.append(line)
    if not args.no_write:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        body = "\n".join(
            [
                f"`bench/server_ingest.py --n {args.n} --batch {args.batch}`, {stamp}, "
                f"{os.cpu_count()} cores, Python {platform.python_version()}. Ours: evaluations/s "
                "through `POST /api/v1/ingest/evaluations` (uvicorn, workers as listed, "
                "validation, dedup, aggregates in the same transaction). Floor: plain "
                "executemany of the "
                "same rows into the same table, one commit per batch, foreign keys on. "
                "Goal: >= 20,000/s on SQLite.",
                "",
                "| database | server workers | gateway clients | evaluations | batch | ours (ev/s) "
                "| floor (ev/s) | ours/floor |",
                "|---|---|---|---|---|---|---|---|",
                *lines,
            ]
        )
        update_section("Ingest through the HTTP API", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
