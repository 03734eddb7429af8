"""kill -9 of `hallrate export run` at random instants (mid-batch: the platform holds each
request a while), then runs to completion: every record ends at the platform exactly once.
Real processes: the worker and the fake provincial platform (`hallrate export platform`,
province-b: HMAC-signed requests, refusals and repeated acknowledgements) are subprocesses."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.db import make_engine, make_sessionmaker
from server.migrate import upgrade
from server.models import ExportOutbox
from tests.server.export_push.fixtures import SECRET, expected_ids, seed
from tests.support.ports import free_port
from tests.support.procs import REPO

pytestmark = pytest.mark.timeout(240)
N = 100
PROFILE = "province-b"


def _platform(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable, "-m", "server.cli", "export", "platform", "--profile", PROFILE,
        "--port", str(port), "--secret-env", "PROV_B_SECRET", "--answer-delay", "0.3",
        "--reject-fraction", "0.1", "--duplicate-ack-fraction", "0.2", "--seed", "5",
    ]  # fmt: skip
    p = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/health", timeout=2):
                return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    raise AssertionError("the fake platform did not start")


def _pushes(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/calls", timeout=10) as r:
        return sum(1 for c in json.loads(r.read()) if c.get("path") == "/ratings")


def _settled(sessions: sessionmaker[Session]) -> bool:
    """Rows queued and none pending or in flight."""
    with sessions() as s:
        states = set(s.scalars(select(ExportOutbox.state)).all())
    return bool(states) and not states & {"pending", "sending"}


def _held(port: int) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/records", timeout=10) as r:
        return list(json.loads(r.read()))


def test_worker_killed_mid_batch_still_delivers_each_record_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hallrate.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        seed(s, N)
        s.commit()
        want = expected_ids(s, channels=("evaluator", "ballot_box", "sms", "phone", "online"))
    port = free_port()
    targets = tmp_path / "targets.toml"
    targets.write_text(
        f'[[target]]\nname = "prov-b"\nprofile = "{PROFILE}"\n'
        f'url = "http://127.0.0.1:{port}/ratings"\nquery_url = "http://127.0.0.1:{port}/query"\n'
        'halls = ["H1"]\nsecret_env = "PROV_B_SECRET"\nsince = 2026-10-01\ntimeout_seconds = 5\n'
    )
    env = {
        **os.environ,
        "HALLRATE_DATABASE_URL": url,
        "HALLRATE_DATA_DIR": str(tmp_path),
        "HALLRATE_EXPORT_TARGETS": str(targets),
        "HALLRATE_EXPORT_POLL_SECONDS": "0.2",
        "HALLRATE_EXPORT_VISIBILITY_DELAY_SECONDS": "0.3",
        "HALLRATE_EXPORT_RETRY_BASE_SECONDS": "0",
        "HALLRATE_EXPORT_MAX_ATTEMPTS": "50",
        "PROV_B_SECRET": SECRET,
        "PYTHONUNBUFFERED": "1",
    }
    platform = _platform(port, env)
    worker = [sys.executable, "-m", "server.cli", "export", "run"]
    rng = random.Random(int(os.environ.get("EXPORT_KILL_SEED", "20")))
    kills = in_flight = 0
    try:
        for _ in range(6):  # workers killed at random instants once they push: mid-batch
            if _settled(sessions):
                break
            before = _pushes(port)
            p = subprocess.Popen(worker, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while _pushes(port) == before and p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.5))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            p.wait()
            with sessions() as s:  # rows the killed worker left in flight
                in_flight += len(
                    s.scalars(select(ExportOutbox.id).where(ExportOutbox.state == "sending")).all()
                )
        for _ in range(10):  # then passes to completion
            time.sleep(0.35)  # past the visibility delay: the next pass checks
            out = subprocess.run(
                [*worker, "--once"], env=env, cwd=REPO, capture_output=True, text=True
            )
            assert out.returncode == 0, out.stderr[-2000:]
            with sessions() as s:
                busy = s.scalars(
                    select(ExportOutbox.id).where(ExportOutbox.state.in_(("pending", "sending")))
                ).all()
            if not busy:
                break
        held = _held(port)
    finally:
        platform.terminate()
        platform.wait(10)
    with sessions() as s:
        rows = s.scalars(select(ExportOutbox)).all()
    engine.dispose()
    assert kills >= 2 and in_flight > 0  # the test really killed workers mid-batch
    per_id = Counter(str(h["record_id"]) for h in held if h["live"])
    assert per_id == Counter({rid: 1 for rid in want})  # each exactly once
    assert len(held) == len(want)  # no second copy, live or not
    assert len(rows) == len(want) and {r.state for r in rows} == {"accepted"}
