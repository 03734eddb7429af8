"""Time to interactive of each dashboard view on the demo data, in headless Chromium.

    .venv/bin/python bench/dashboard_page.py [--demo-dir var/demo] [--runs 7] [--write]
        [--demo-seconds 180]

The demo data is what `hallrate up` makes: with --demo-dir, that data directory (its
hallrate.db is copied first); else this runs `hallrate up --speed 1500 --duration
--demo-seconds` in a temporary directory (about a working day of the simulated hall every 20 s).
A real server process (`python -m server.serve`) serves the copy. For each view, --runs times:
a fresh browser context (cold cache) with the admin's token, navigation to
/dashboard/#/<view>?hall=DEMO&period=<this quarter>, and the time from the start of navigation
until the view is interactive: the dashboard's performance mark `hallrate:interactive` when it
sets one, else the first animation frame at which the view's numbers and charts are drawn
(VIEWS: a check run every frame in the page). Floor, in the same run: the same page's static
load without data (no token: index.html, CSS and scripts loaded, the sign-in form shown; the
navigation's loadEventEnd). --write puts the medians into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.server_report import update_section  # noqa: E402
from server.up import DEMO_HALL, current_quarter  # noqa: E402
from simulator.services import free_port  # noqa: E402

SECTION = "Dashboard (issue #19)"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

# The check of "interactive" per view: a JS expression over `sec` (the view's visible section).
# Every view: its first render finished (the status line `#updated` is written when a view's
# render has settled) without an error in the section, and every chart there (`svg[role=img]`)
# has its marks; `drawn(sec, n)` also asks for at least n charts; `rows(x)` for table rows.
COMMON = "filled('#updated') && !sec.querySelector('.error') && "
VIEWS: dict[str, str] = {
    "overview": COMMON + "filled('#score') && rows('#ranking') && drawn(sec, 3)",
    "windows": COMMON + "drawn(sec, 1) && rows(sec)",
    "window/A01": COMMON + "drawn(sec, 1)",
    "staff": COMMON + "drawn(sec, 1) && rows(sec)",
    "staff/1001": COMMON + "drawn(sec, 1)",
    "bad": COMMON + "drawn(sec, 0)",
    "channels": COMMON + "rows('#sms-summary') && rows('#cb-summary') && drawn(sec, 2)",
    "devices": COMMON + "rows('#devices-table')",
    "cases": COMMON + "rows('#case-kinds')",
}

READY_JS = """
(() => {
  const token = %(token)s;
  if (token) sessionStorage.setItem("hallrate.token", token);
  const q = (s) => (typeof s === "string" ? document.querySelector(s) : s);
  const filled = (s) => {
    const e = q(s);
    return !!e && !["", "—"].includes(e.textContent.trim());
  };
  const rows = (s) => { const e = q(s); return !!e && e.querySelectorAll("tbody tr").length > 0; };
  const drawn = (sec, n) => {
    const charts = [...sec.querySelectorAll("svg[role=img]")];
    return charts.length >= n && charts.every((c) => c.querySelector("[data-value]"));
  };
  const section = () =>
    document.querySelector("#board:not([hidden]) section[data-view]:not([hidden])");
  window.__bench = { ready: null };
  const check = () => {
    try {
      const sec = section();
      if (sec && (%(check)s)) { window.__bench.ready = performance.now(); return; }
    } catch (e) { /* not there yet */ }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();
"""

PAGE_STATE_JS = """() => {
  const mark = performance.getEntriesByName("hallrate:interactive", "mark")[0];
  const nav = performance.getEntriesByType("navigation")[0];
  const api = performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/v1/"));
  return {
    ready: window.__bench ? window.__bench.ready : null,
    mark: mark ? mark.startTime : null,
    load: nav ? nav.loadEventEnd : null,
    api: api.map((e) => [e.name, e.startTime, e.responseEnd]),
  };
}"""


# ---- demo data and the server ----


def make_demo(tmp: Path, seconds: float) -> Path:
    """A data directory filled by `hallrate up` (simulated hall, embedded broker, SQLite)."""
    data = tmp / "demo"
    ports = [str(free_port()) for _ in range(3)]
    argv = [sys.executable, "-m", "server.cli", "up", "--data-dir", str(data), "--speed", "1500"]
    argv += ["--duration", str(seconds), "--port", ports[0], "--gateway-port", ports[1]]
    argv += ["--mqtt-port", ports[2]]
    env = {**os.environ, "HALLRATE_MQTT_URL": "", "HALLRATE_DATABASE_URL": ""}
    print(f"hallrate up for {seconds:.0f} s in {data} ...", flush=True)
    with open(tmp / "up.log", "wb") as log:
        subprocess.run(argv, env=env, stdout=log, stderr=subprocess.STDOUT, check=True, cwd=REPO)
    return data


def copy_demo(demo: Path, dest: Path) -> Path:
    """The demo's database (a consistent copy, WAL included) and its secret, in ``dest``."""
    dest.mkdir(parents=True)
    for name in ("secret_key", "admin-password"):
        if (demo / name).exists():
            shutil.copy2(demo / name, dest / name)
    src = sqlite3.connect(demo / "hallrate.db")
    dst = sqlite3.connect(dest / "hallrate.db")
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return dest


def describe_demo(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        n, first, last = con.execute(
            "SELECT count(*), min(local_day), max(local_day) FROM evaluations"
        ).fetchone()
        per = con.execute(
            "SELECT channel, count(*) FROM evaluations GROUP BY channel ORDER BY 2 DESC"
        ).fetchall()
        windows = con.execute("SELECT count(*) FROM windows").fetchone()[0]
        other = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("tickets", "sms_messages", "callback_entries", "cases", "device_health")
        }
    finally:
        con.close()
    channels = ", ".join(f"{c} {k:,}" for c, k in per)
    rest = ", ".join(f"{t} {k:,}" for t, k in other.items())
    return f"{n:,} evaluations ({channels}) from {first} to {last}, {windows} windows; {rest}"


def serve(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = [sys.executable, "-m", "server.serve", "--port", str(port), "--migrate"]
    argv += ["--database-url", f"sqlite:///{data / 'hallrate.db'}", "--log-level", "warning"]
    env = {**os.environ, "HALLRATE_DATA_DIR": str(data), "HALLRATE_MQTT_URL": ""}
    log = open(data / "server.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((data / "server.log").read_text()[-3000:])
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


# ---- the browser ----


def one_load(browser: Any, url: str, token: str | None, check: str) -> dict[str, Any]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(READY_JS % {"token": json.dumps(token), "check": check})
    try:
        page = context.new_page()
        page.goto(url)
        if token:
            with contextlib.suppress(PlaywrightTimeout):  # reported as not interactive
                page.wait_for_function(
                    "() => window.__bench && window.__bench.ready !== null", timeout=20_000
                )
        else:
            page.wait_for_selector("#login:not([hidden])")
        state: dict[str, Any] = page.evaluate(PAGE_STATE_JS)
    finally:
        context.close()
    return state


def measure(base: str, token: str, period: str, runs: int) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            floor_url = f"{base}/dashboard/"
            one_load(browser, floor_url, None, "false")  # warm the server
            floors = [one_load(browser, floor_url, None, "false")["load"] for _ in range(runs)]
            floor = statistics.median(floors)
            print(f"floor: static page, no data {floor:.0f} ms", flush=True)
            for view, check in VIEWS.items():
                url = f"{base}/dashboard/#/{view}?hall={DEMO_HALL}&period={period}"
                one_load(browser, url, token, check)  # warm-up
                states = [one_load(browser, url, token, check) for _ in range(runs)]
                row = summarise(view, url.removeprefix(base), states, floor)
                print(
                    f"{view:12} {row['ms'] or 0:7.0f} ms ({row['by']}; mark: {row['mark_ms']}) "
                    f"api {row['api_calls']} calls {row['api_ms']:.0f} ms",
                    flush=True,
                )
                out.append(row)
        finally:
            browser.close()
    return out


def summarise(view: str, path: str, states: list[dict[str, Any]], floor: float) -> dict[str, Any]:
    marks = [s["mark"] for s in states if s["mark"] is not None]
    ready = [s["ready"] for s in states if s["ready"] is not None]
    api_calls = [len(s["api"]) for s in states]
    api_span = [
        max(e[2] for e in s["api"]) - min(e[1] for e in s["api"]) if s["api"] else 0.0
        for s in states
    ]
    by = "mark" if len(marks) == len(states) else "check"
    done = marks if by == "mark" else ready
    return {
        "view": view,
        "path": path,
        # None: not interactive within 20 s in some run (the view or its charts missing)
        "ms": statistics.median(done) if len(done) == len(states) else None,
        "by": by,
        "mark_ms": round(statistics.median(marks)) if marks else None,
        "check_ms": statistics.median(ready) if ready else None,
        "api_calls": statistics.median(api_calls),
        "api_ms": statistics.median(api_span),
        "floor": floor,
    }


def token_of(base: str, password: str) -> str:
    r = httpx.post(f"{base}/api/v1/auth/token", json={"username": "admin", "password": password})
    r.raise_for_status()
    return str(r.json()["access_token"])


def write(rows: list[dict[str, Any]], demo: str, runs: int) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load1 = os.getloadavg()[0]
    body = [
        f"`bench/dashboard_page.py --runs {runs}`, {stamp}, {os.cpu_count()} cores shared with "
        f"other work (load average {load1:.1f} at the end), Python {platform.python_version()}, "
        "headless Chromium at 1280×900. Demo data made by `hallrate up` (simulated hall "
        f"{DEMO_HALL}): {demo}. Served by `python -m server.serve` (SQLite, one worker) on "
        "loopback. Goal (issue #19): interactive in under 1 s.",
        "",
        "- *ours*: from the start of navigation to `/dashboard/#/<view>?hall=…&period=…` in a "
        "fresh browser context (cold cache, token in sessionStorage) until the view is "
        "interactive: the dashboard's `hallrate:interactive` performance mark where it sets one "
        "(*mark*), else the first animation frame at which the view's numbers, tables and "
        "charts (`svg[role=img]` with their `data-value` marks) are drawn (*check*; "
        "bench/dashboard_page.py VIEWS). Median of the runs.",
        "- *API*: the view's requests to /api/v1 (with the hall list and the alerts bell, which "
        "every view loads) and the time from the first request's start to the last response's "
        "end.",
        "- *floor*: the same page's static load without data: no token, index.html, CSS and "
        "scripts loaded, the sign-in form shown (loadEventEnd).",
        "",
        "| view | URL | ours (ms) | by | API requests | API span (ms) | floor: static page (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["ms"] is None:
            ours = "not interactive within 20 s"
        else:
            ours = f"**{r['ms']:.0f}**" + (" ⚠" if r["ms"] > 1000 else "")
        body.append(
            f"| {r['view']} | `{r['path']}` | {ours} | {r['by']} | "
            f"{r['api_calls']:.0f} | {r['api_ms']:.0f} | {r['floor']:.0f} |"
        )
    update_section(SECTION, "\n".join(body))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--demo-dir", help="a `hallrate up` data directory (default: make one)")
    ap.add_argument("--demo-seconds", type=float, default=180.0)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--period", default=None, help="default: the current quarter")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args(argv)
    period = args.period or current_quarter()
    with tempfile.TemporaryDirectory(prefix="hallrate-page-") as tmpdir:
        tmp = Path(tmpdir)
        demo = Path(args.demo_dir) if args.demo_dir else make_demo(tmp, args.demo_seconds)
        data = copy_demo(demo, tmp / "served")
        described = describe_demo(data / "hallrate.db")
        print(described, flush=True)
        proc, base = serve(data)
        try:
            token = token_of(base, (demo / "admin-password").read_text().strip())
            rows = measure(base, token, period, args.runs)
        finally:
            proc.terminate()
            proc.wait(15)
    if args.write:
        write(rows, described, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
