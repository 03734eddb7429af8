"""How soon a 差评 reaches the duty manager's webhook (issue #18, docs/cases.md "Alerts"), next to
a plain HTTP POST to the same receiver and the ingest of a rating that alerts nothing.

    .venv/bin/python bench/alert_latency.py [--n 200] [--db sqlite|postgresql|both] [--no-write]

Starts `python -m server.serve --migrate` on a free port against a fresh database (a temp SQLite
file; PostgreSQL at 127.0.0.1:5432, user postgres), with the bootstrap admin, gateway and windows,
the policy `[alerts] quiet_hours = ""` and the deliverer's shipped poll
(`HALLRATE_ALERTS_POLL_SECONDS` left unset: its default is reported). A webhook receiver (a
threaded http.server in this process) is registered with `POST /api/v1/alert-targets`.

Each round, one at a time, on one keep-alive connection as a gateway would:
- floor: a 满意 evaluation of a new ticket through `POST /api/v1/ingest/evaluations` (stored,
  no case, no alert): its round trip;
- floor: a plain POST from here (httpx) to the receiver with a JSON body of the alert's size:
  its round trip;
- ours: a 不满意 evaluation of a new ticket through the same endpoint: its round trip, and the
  time from its response (the 差评 and its case committed) to the receiver reading the webhook
  whose `ticket` is that ticket; also from the request sent, since the deliverer is woken by the
  commit and its webhook may overtake the ingest response (then the first figure is negative).
At the end every webhook alert must be `sent` (GET /api/v1/alerts).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.server_ingest import HALL_TZ, drop_db, free_port, fresh_db  # noqa: E402
from bench.server_report import update_section  # noqa: E402
from server.alerts.worker import AlertSettings  # noqa: E402

KEY = "bench-gateway-key-0123456789abcdef"
ADMIN = ("admin", "bench-admin-password-1")
POLICY = '[alerts]\nquiet_hours = ""\n'
INGEST = "/api/v1/ingest/evaluations"


class Receiver:
    """A webhook receiver on a thread: the arrival time (perf_counter, when the body has been
    read) of every alert, by its ticket."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrived: dict[str, float] = {}
        self.bodies: dict[str, bytes] = {}
        self.events: dict[str, threading.Event] = {}
        self.other = 0  # requests that are not a bad_rating alert (the floor's plain POSTs)
        self.url = ""

    def expect(self, ticket: str) -> threading.Event:
        with self.lock:
            return self.events.setdefault(ticket, threading.Event())

    def got(self, body: bytes, at: float) -> None:
        try:
            alert = json.loads(body)
        except ValueError:
            alert = {}
        if not isinstance(alert, dict) or alert.get("event") != "bad_rating":
            with self.lock:
                self.other += 1
            return
        ticket = str(alert.get("ticket"))
        with self.lock:
            self.arrived.setdefault(ticket, at)
            self.bodies.setdefault(ticket, body)
            event = self.events.setdefault(ticket, threading.Event())
        event.set()


@contextmanager
def receiving() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.got(body, time.perf_counter())
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def record(key: str, level: str, window: str, ticket: str) -> dict[str, Any]:
    """One evaluator vote, now, on a ticket of its own."""
    return {
        "key": key,
        "rev": 0,
        "channel": "evaluator",
        "level": level,
        "occurred_at": datetime.now(HALL_TZ).isoformat(timespec="seconds"),
        "time_source": "device",
        "hall": "H1",
        "window": window,
        "ticket": ticket,
        "staff": "1001",
        "device": f"EV-{window}",
        "attribution": "attributed",
        "flags": [],
    }


def start_server(url: str, tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    policy = tmp / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALLRATE_", "HTTP", "http"))}
    env.update(
        {
            "HALLRATE_SECRET_KEY": "bench-secret-bench-secret",
            "HALLRATE_DATA_DIR": str(tmp),
            "HALLRATE_DATABASE_URL": url,
            "HALLRATE_BOOTSTRAP_GATEWAY": f"gw-bench:{KEY}:H1",
            "HALLRATE_BOOTSTRAP_WINDOWS": "A01,A02",
            "HALLRATE_BOOTSTRAP_ADMIN": ":".join(ADMIN),
            "HALLRATE_POLICY_FILE": str(policy),
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    argv = [sys.executable, "-m", "server.serve", "--port", str(port), "--migrate"]
    log = open(tmp / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [*argv, "--log-level", "warning"], env=env, cwd=REPO, stdout=log, stderr=log
    )
    log.close()
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200:
                return proc, port
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError((tmp / "server.log").read_text())
        time.sleep(0.1)


def run(kind: str, n: int, tmp: Path) -> dict[str, list[float]]:
    """The round trips and latencies (seconds) of ``n`` rounds against a fresh ``kind`` database."""
    url = fresh_db(kind, tmp)
    proc = None
    try:
        proc, port = start_server(url, tmp)
        base = f"http://127.0.0.1:{port}"
        with receiving() as receiver, httpx.Client(base_url=base, timeout=30) as api:
            token = api.post(
                "/api/v1/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]}
            )
            token.raise_for_status()
            admin = {"Authorization": f"Bearer {token.json()['access_token']}"}
            r = api.post(
                "/api/v1/alert-targets",
                json={
                    "hall": "H1",
                    "channel": "webhook",
                    "address": receiver.url,
                    "name": "值班负责人",
                },
                headers=admin,
            )
            assert r.status_code == 201, r.text
            gw = {"Authorization": f"Bearer {KEY}"}

            def ingest(rec: dict[str, Any]) -> tuple[float, float]:
                """(sent, answered): perf_counter before the request and after the response."""
                body = json.dumps({"gateway": "gw-bench", "records": [rec]}).encode()
                headers = {**gw, "Content-Type": "application/json"}
                start = time.perf_counter()
                r = api.post(INGEST, content=body, headers=headers)
                answered = time.perf_counter()
                assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
                return start, answered

            # Warm-up: one of each, unmeasured (first requests, first case, first webhook).
            ingest(record("EV-A02:warm:0", "satisfied", "A02", "W0"))
            warm = receiver.expect("W1")
            ingest(record("EV-A01:warm:1", "dissatisfied", "A01", "W1"))
            assert warm.wait(30), "no webhook for the warm-up 差评"
            size = len(receiver.bodies["W1"])
            out: dict[str, list[float]] = {
                "bad": [],
                "bad_sent": [],
                "bad_rt": [],
                "good_rt": [],
                "post": [],
            }
            with httpx.Client(timeout=30) as plain:
                filler = {"event": "bench", "pad": ""}
                filler["pad"] = "x" * (size - len(json.dumps(filler)))
                plain_body = json.dumps(filler).encode()
                assert len(plain_body) == size
                post_headers = {"Content-Type": "application/json; charset=utf-8"}
                for i in range(n):
                    sent, answered = ingest(
                        record(f"EV-A02:bench:{i}", "satisfied", "A02", f"S{i:05d}")
                    )
                    out["good_rt"].append(answered - sent)
                    start = time.perf_counter()
                    plain.post(receiver.url, content=plain_body, headers=post_headers)
                    out["post"].append(time.perf_counter() - start)
                    ticket = f"B{i:05d}"
                    arrived = receiver.expect(ticket)
                    rec = record(f"EV-A01:bench:{i}", "dissatisfied", "A01", ticket)
                    sent, stored = ingest(rec)
                    out["bad_rt"].append(stored - sent)
                    assert arrived.wait(30), f"no webhook for ticket {ticket} within 30 s"
                    with receiver.lock:
                        out["bad"].append(receiver.arrived[ticket] - stored)
                        out["bad_sent"].append(receiver.arrived[ticket] - sent)
            assert receiver.other == n, receiver.other
            # Every 差评 opened its case and its webhook alert, each delivered once.
            # The receiver has every body; the deliverer marks the last one sent just after.
            deadline = time.monotonic() + 30
            while (states := webhook_states(api, admin)) != ["sent"] * (n + 1):
                assert time.monotonic() < deadline, states[:5]
                time.sleep(0.1)
        return out
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(15)
        drop_db(url)


def webhook_states(api: httpx.Client, admin: dict[str, str]) -> list[str]:
    """The states of hall H1's webhook alerts, all pages."""
    states: list[str] = []
    params: dict[str, Any] = {"hall": "H1", "channel": "webhook", "limit": 500}
    while True:
        page = api.get("/api/v1/alerts", params=params, headers=admin)
        page.raise_for_status()
        states += [a["state"] for a in page.json()["items"]]
        if not page.json()["next_cursor"]:
            return states
        params["cursor"] = page.json()["next_cursor"]


def ms(xs: list[float], q: float) -> str:
    if q >= 1:
        return f"{max(xs) * 1000:.1f}"
    cut = statistics.quantiles(xs, n=100, method="inclusive")[round(q * 100) - 1]
    return f"{cut * 1000:.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200, help="差评 (and floor rounds) to measure")
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.n < 2:
        ap.error("--n must be at least 2")
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    poll = AlertSettings.model_fields["poll_seconds"].default
    rows = []
    for kind in kinds:
        with tempfile.TemporaryDirectory() as tmpdir:
            got = run(kind, args.n, Path(tmpdir))
        for name, label in (
            ("bad", "**ours: 差评 ingest response → webhook at the receiver**"),
            ("bad_sent", "ours: 差评 ingest request sent → webhook at the receiver"),
            ("bad_rt", "ours: 差评 ingest round trip (stored, case opened, alert recorded)"),
            ("post", "floor: plain POST to the same receiver, same body size"),
            ("good_rt", "floor: 满意 ingest round trip (no case, no alert)"),
        ):
            xs = got[name]
            line = (
                f"| {kind} | {label} | {min(xs) * 1000:.1f} | {ms(xs, 0.5)} | {ms(xs, 0.95)} "
                f"| {ms(xs, 1)} |"
            )
            print(line, flush=True)
            rows.append(line)
    if not args.no_write:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        body = "\n".join(
            [
                f"`bench/alert_latency.py --n {args.n} --db {args.db}`, {stamp}, "
                f"{os.cpu_count()} cores, Python {platform.python_version()}. `python -m "
                "server.serve --migrate` (1 worker) on a fresh database, policy "
                '`[alerts] quiet_hours = ""`, the deliverer thread at its shipped '
                f"`HALLRATE_ALERTS_POLL_SECONDS` = {poll:g} s; one webhook target, a threaded "
                "`http.server` receiver in the bench process. Each round, one request at a time "
                "on one keep-alive connection: a 满意 vote of a new ticket (floor), a plain "
                "POST to the receiver with a body of the alert's size (floor), a 不满意 vote of a "
                f"new ticket (ours); {args.n} rounds per database, after one unmeasured warm-up.",
                "",
                "| database | measure | min (ms) | p50 (ms) | p95 (ms) | max (ms) |",
                "|---|---|---|---|---|---|",
                *rows,
            ]
        )
        update_section("Alerts (issue #18)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
