"""Latency of every API call the dashboard makes, at 1M and 10M evaluations, SQLite and PostgreSQL.

    .venv/bin/python bench/server_dashboard.py [--sizes 1000000 10000000]
        [--db sqlite postgresql] [--repeat 15] [--write] [--explain] [--no-operations]

Loads a year of synthetic evaluations (bench/synthetic.py: 10 halls x 40 windows) and the
operations data derived from them (bench/operations.py: tickets, SMS texts and replies,
call-backs, a case per counted 差评, device health), rebuilds every aggregate grain
(server.aggregates.rebuild), then times in-process (ASGI test client, no network) each call of
bench/dashboard_calls.py for hall H00 and 2026Q4: the median of --repeat runs after a first one.
Floor, in the same run: the SQL statements the call ran (captured from the engine), each
replayed on a raw driver connection, fetching every row: the sum of their medians; and a
trivial endpoint (/auth/me). --explain prints the query plan of the slowest statement of each
call over 100 ms. --write puts the table into docs/benchmarks.md, keeping the columns of
configurations not run this time.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import operations  # noqa: E402
from bench.dashboard_calls import (  # noqa: E402
    BUDGET_MS,
    HALL,
    QUARTER,
    Recorder,
    Timing,
    calls,
    explain,
    time_call,
)
from bench.server_report import DOC, update_section  # noqa: E402
from bench.synthetic import USER, analyze, drop_db, fresh_db, load, organisation  # noqa: E402
from server.aggregates import rebuild  # noqa: E402
from server.db import make_engine, make_sessionmaker  # noqa: E402
from server.migrate import upgrade  # noqa: E402

SECTION = "Dashboard API calls (issue #19)"


def size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n:,}"


def measure(kind: str, n: int, tmp: Path, args: argparse.Namespace) -> tuple[list[Timing], str]:
    if args.url:  # a database loaded (and kept) by an earlier run
        print(f"{kind} {n:,}: measuring {args.url}", flush=True)
        timings = run_calls(args.url, tmp, args)
        return timings, run_line(args.url, args.loaded or "loaded by an earlier run")
    url = fresh_db(kind, tmp, prefix="dash")
    try:
        loaded = prepare(url, n, not args.no_operations)
        print(f"{kind} {n:,}: {loaded}", flush=True)
        timings = run_calls(url, tmp, args)
        return timings, run_line(url, loaded)
    finally:
        if args.keep:
            print(f"kept: --url {url}", flush=True)
        else:
            drop_db(url)


def prepare(url: str, n: int, with_operations: bool = True) -> str:
    """Migrate the empty database ``url``, load ``n`` evaluations (and the operations data),
    rebuild every aggregate grain; how long each step took."""
    upgrade(url)
    engine = make_engine(url)
    windows = organisation(make_sessionmaker(engine))
    load_s = load(engine, n, windows)
    ops_s = 0.0
    if with_operations:
        with engine.connect() as c:
            codes = dict(c.execute(sa.text("SELECT id, code FROM windows")).all())
        halls: dict[int, list[str]] = {}
        for hall_id, window_id, _d, _s in windows:
            halls.setdefault(hall_id, []).append(codes[window_id])
        ops_s, _rows = operations.load(engine, halls)
    t = time.perf_counter()
    with make_sessionmaker(engine)() as s:
        rebuild(s)
        s.commit()
    analyze(engine)
    rebuild_s = time.perf_counter() - t
    engine.dispose()
    return (
        f"load {load_s:.0f} s + operations {ops_s:.0f} s + rebuild {rebuild_s:.0f} s "
        f"(load average {os.getloadavg()[0]:.1f})"
    )


def run_line(url: str, loaded: str) -> str:
    """How the database was made and what it holds, for the table's notes."""
    engine = make_engine(url)
    tables = ("tickets", "sms_messages", "sms_replies", "callback_entries", "cases")
    with engine.connect() as c:
        names = sa.inspect(engine).get_table_names()
        grains = [t for t in names if t.startswith("evaluation_") and t.endswith("_counts")]
        count = {
            t: int(c.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in [*tables, *sorted(grains)]
        }
    engine.dispose()
    ops = ", ".join(f"{t} {count[t]:,}" for t in tables)
    cells = ", ".join(f"{t.removeprefix('evaluation_')} {count[t]:,}" for t in sorted(grains))
    return (
        f"{loaded}; operations rows: {ops}; aggregate rows: {cells}; measured {_stamp()}, "
        f"load average {os.getloadavg()[0]:.1f} after"
    )


def _stamp() -> str:
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"


def run_calls(url: str, tmp: Path, args: argparse.Namespace) -> list[Timing]:
    from fastapi.testclient import TestClient

    from server.app import create_app
    from server.config import Settings

    app = create_app(
        Settings(database_url=url, data_dir=tmp, secret_key="bench-secret-bench-secret")  # type: ignore[arg-type]
    )
    out = []
    with TestClient(app) as client:
        r = client.post("/api/v1/auth/token", json={"username": USER[0], "password": USER[1]})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        recorder = Recorder(app.state.engine)
        for label, path in calls():
            timing = time_call(client, headers, recorder, label, path, args.repeat)
            out.append(timing)
            print(row_text(timing), flush=True)
            if args.explain and timing.floor and timing.ms > BUDGET_MS:
                f = timing.floor
                print(f"  slowest statement ({f.slowest_ms:.1f} ms):\n  {f.slowest_sql}")
                print("  params:", f.slowest_params)
                print("  " + explain(app.state.engine, f.slowest_sql, f.slowest_params))
    app.state.engine.dispose()
    return out


def row_text(t: Timing) -> str:
    if t.floor is None:
        return f"  {t.label:28} HTTP {t.status}"
    flag = "  OVER 100 ms" if t.ms > BUDGET_MS else ""
    return (
        f"  {t.label:28} {t.ms:8.1f} ms  first {t.first_ms:8.1f}  floor {t.floor.ms:7.1f} "
        f"({t.floor.statements} statements, slowest {t.floor.slowest_ms:.1f})  "
        f"{t.size:,} B{flag}"
    )


def cell(t: Timing) -> str:
    if t.floor is None:
        return f"HTTP {t.status}"
    over = " ⚠" if t.ms > BUDGET_MS else ""
    return f"**{t.ms:.1f}**{over} / {t.floor.ms:.1f}"


# ---- docs/benchmarks.md: one column per configuration, kept across runs ----


def _old_section() -> str:
    text = DOC.read_text() if DOC.exists() else ""
    m = re.search(rf"^### {re.escape(SECTION)}\n(.*?)(?=^### |^## |\Z)", text, flags=re.M | re.S)
    return m.group(1) if m else ""


def _old_table(section: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Cells per column (configuration) and call, and each configuration's run line."""
    lines = [ln for ln in section.splitlines() if ln.startswith("|") and not ln.startswith("|-")]
    cols: dict[str, dict[str, str]] = {}
    if lines:
        head = [c.strip() for c in lines[0].strip("|").split("|")]
        for ln in lines[1:]:
            cells = [c.strip() for c in ln.strip("|").split("|")]
            for name, value in zip(head[2:], cells[2:], strict=False):
                cols.setdefault(name, {})[cells[0]] = value
    runs = dict(re.findall(r"^- \*\*(.+?)\*\*: (.*)$", section, flags=re.M))
    return cols, runs


def write(results: dict[tuple[str, int], tuple[list[Timing], str]], repeat: int) -> None:
    cols, runs = _old_table(_old_section())
    for (kind, n), (timings, run) in results.items():
        name = f"{kind} {size_label(n)}"
        cols[name] = {t.label: cell(t) for t in timings}
        runs[name] = run

    def order(name: str) -> tuple[float, bool]:  # by size, SQLite first
        kind, size = name.rsplit(" ", 1)
        n = float(size.rstrip("M").replace(",", "")) * (1e6 if size.endswith("M") else 1)
        return n, kind != "sqlite"

    names = sorted(cols, key=order)
    paths = dict(calls())
    body = [
        f"`bench/server_dashboard.py`, 2 cores shared with other work, Python "
        f"{platform.python_version()}. The synthetic year of bench/synthetic.py (10 halls x 40 "
        "windows, 3 staff per window, four channels, 2 % flagged, 10 % 差评) and the "
        "operations data derived from it (bench/operations.py: a ticket per SMS and phone "
        "rating, an SMS text per SMS rating and replies to three in four, a call-back entry "
        "per phone rating, a case per counted 差评, the health of 410 devices). Every call for "
        f"hall {HALL} and {QUARTER}, in-process (ASGI test client, no network). Goal (issue "
        f"#19): every call under {BUDGET_MS:.0f} ms at 10M.",
        "",
        f"Cells: **ours** / floor, in ms. *Ours*: the median of {repeat} calls after a first one. "
        "*Floor*: the SQL statements that call ran, captured from the engine and each replayed "
        f"{repeat} times on a raw driver connection fetching every row: the sum of their medians "
        "(the row `trivial: /auth/me` is the cost of a request that does almost nothing: "
        "authentication, session, JSON). ⚠ = over the goal.",
        "",
        "| call | `GET /api/v1…` | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    labels = list(paths)
    for name in names:
        labels += [lb for lb in cols[name] if lb not in labels]
    for label in labels:
        path = paths.get(label, "")
        body.append(
            f"| {label} | `{path}` | " + " | ".join(cols[n].get(label, "") for n in names) + " |"
        )
    body += ["", *(f"- **{n}**: {runs[n]}" for n in names if n in runs)]
    update_section(SECTION, "\n".join(body))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    ap.add_argument("--explain", action="store_true", help="plans of calls over 100 ms")
    ap.add_argument("--no-operations", action="store_true", help="evaluations only")
    ap.add_argument("--tmp", default=None, help="directory for SQLite files (default: /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the database; print its URL")
    ap.add_argument("--url", help="measure this kept database (one --sizes and --db)")
    ap.add_argument("--loaded", help="with --url: how it was loaded (for the notes)")
    args = ap.parse_args(argv)
    if args.url and (len(args.sizes) != 1 or len(args.db) != 1):
        ap.error("--url needs one --sizes and one --db (what that database holds)")
    results: dict[tuple[str, int], tuple[list[Timing], str]] = {}
    tmp = Path(args.tmp or tempfile.gettempdir()) / f"hallrate-dash-{os.getpid()}"
    tmp.mkdir(parents=True)
    try:
        for n in args.sizes:
            for kind in args.db:
                results[(kind, n)] = measure(kind, n, tmp, args)
                if args.write:  # after each configuration, so an interrupted run keeps it
                    write(results, args.repeat)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
