"""`hallrate import` rate and peak memory for N rows, next to a floor measured in the same run.

    python bench/import_rows.py --rows 200000 1000000

For each N: a CSV of N SMS ratings (record id, level, time, window) is imported by
`python -m server.import_cli` into a fresh migrated SQLite database (a child process, so its
peak RSS is its own). Floor: plain executemany of N rows of the same fields into a plain table of
another fresh SQLite file, one commit per 5,000 rows. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LEVELS = ("满意", "非常满意", "基本满意", "不满意")


def write_csv(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("记录编号,评价结果,评价时间,窗口\n")
        for i in range(n):
            day, minute = 1 + i % 28, i % 600
            fh.write(
                f"R{i},{LEVELS[i % 4]},2026-11-{day:02d} {8 + minute // 60:02d}:{minute % 60:02d},"
                f"A{i % 10:02d}\n"
            )


def prepare_db(path: Path) -> str:
    from sqlalchemy import insert, select

    from server.db import make_engine, make_sessionmaker
    from server.migrate import upgrade
    from server.models import Hall, Window

    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        s.execute(insert(Hall), [{"code": "H1", "name": "bench"}])
        hall_id = s.scalars(select(Hall.id)).one()
        s.execute(insert(Window), [{"hall_id": hall_id, "code": f"A{i:02d}"} for i in range(10)])
        s.commit()
    engine.dispose()
    return url


def run_import(csv_path: Path, url: str) -> tuple[float, float]:
    """Seconds and the child's peak RSS in MB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    argv = [str(csv_path), "--channel", "sms", "--hall", "H1", "--database-url", url]
    subprocess.run(
        [sys.executable, "-m", "server.import_cli", *argv],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def floor(path: Path, n: int) -> float:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE f (id INTEGER PRIMARY KEY, key TEXT UNIQUE, channel TEXT, level TEXT, "
        "occurred_at TEXT, hall_id INT, window_id INT, source TEXT)"
    )
    t0 = time.perf_counter()
    for start in range(0, n, 5000):
        rows = [
            (f"sms:H1:id:R{i}", "sms", "satisfied", "2026-11-05T09:00:00+08:00", 1, 1, "import")
            for i in range(start, min(n, start + 5000))
        ]
        db.executemany(
            "INSERT INTO f (key, channel, level, occurred_at, hall_id, window_id, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.commit()
    seconds = time.perf_counter() - t0
    db.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000])
    args = parser.parse_args()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"bench/import_rows.py {stamp}, Python {platform.python_version()}")
    print("| rows | ours (rows/s) | seconds | peak RSS (MB) | floor (rows/s) | ours/floor |")
    print("|---|---|---|---|---|---|")
    for n in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            write_csv(d / "sms.csv", n)
            url = prepare_db(d / "hallrate.db")
            seconds, peak = run_import(d / "sms.csv", url)
            floor_s = floor(d / "floor.db", n)
            print(
                f"| {n:,} | **{n / seconds:,.0f}** | {seconds:.1f} | {peak:,.0f} | "
                f"{n / floor_s:,.0f} | {floor_s / seconds:.0%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
