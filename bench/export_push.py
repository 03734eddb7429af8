"""Throughput of the provincial export push (docs/export.md "Push to a platform").

    .venv/bin/python bench/export_push.py [--ratings 10000] [--db sqlite postgresql]

Seeds one hall with N counted ratings (each channel in turn; system_default is not in the
gbt39046 profile), starts the fake provincial platform in a thread (gbt39046, no faults) and
times passes of the pusher: the first (queue and send everything), an idle one, one after every
rating changed without a change the platform would see (restamped), and one after 1000
exclusions (1000 withdraws).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from server.db import make_engine, make_sessionmaker  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.models import Evaluation  # noqa: E402
from tests.server.export_push.fixtures import platform as fake_platform  # noqa: E402
from tests.server.export_push.fixtures import pusher, seed, target  # noqa: E402

PG_ADMIN = os.environ.get(
    "HALLRATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres"
)


def _timed(label: str, fn: object) -> None:
    t0 = time.perf_counter()
    report = fn()  # type: ignore[operator]
    took = time.perf_counter() - t0
    print(f"  {label}: {took:.2f} s ({report.requests} requests, {report.accepted} accepted)")


def run(n: int, url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        seed(s, n)
        s.commit()
    later = (
        sa.func.now() + sa.text("interval '1 minute'")
        if url.startswith("postgresql")
        else (sa.text("datetime('now', '+1 minute')"))
    )
    with fake_platform("gbt39046") as server:
        t = target(server, "gbt39046")
        p = pusher(sessions)
        _timed(f"first pass, {n} ratings", lambda: p.run_once(t))
        _timed("idle pass", lambda: p.run_once(t))
        with sessions() as s:
            s.execute(sa.update(Evaluation).values(updated_at=later))
            s.commit()
        _timed("every rating changed, nothing to send", lambda: p.run_once(t))
        with sessions() as s:
            ids = s.scalars(
                sa.select(Evaluation.id).where(Evaluation.channel != "system_default").limit(1000)
            ).all()
            s.execute(
                sa.update(Evaluation)
                .where(Evaluation.id.in_(ids))
                .values(
                    counted=False,
                    excluded=True,
                    updated_at=later + sa.text("interval '1 minute'")
                    if url.startswith("postgresql")
                    else sa.text("datetime('now', '+2 minute')"),
                )
            )
            s.commit()
        _timed("1000 excluded: withdraws", lambda: p.run_once(t))
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ratings", type=int, default=10000)
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    args = ap.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")  # fmt: skip
    for db in args.db:
        print(db)
        if db == "sqlite":
            with tempfile.TemporaryDirectory() as d:
                run(args.ratings, f"sqlite:///{d}/bench.db")
            continue
        name = f"hallrate_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            run(args.ratings, PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
