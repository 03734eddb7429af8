"""Done-when of issue #13: kill -9 of `hallrate sms send` at random instants never texts a
citizen twice and never forgets one. Real processes: `hallrate sms send` runs as a subprocess
with the real Alibaba Cloud SDK (HALLRATE_SMS_PROVIDER=local) against the local SMS platform
(`hallrate sms platform`, another process), which verifies every signed request; the sender is
SIGKILLed mid-run and started again."""

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

from server.db import make_engine, make_sessionmaker
from server.migrate import upgrade
from server.models import SmsMessage
from tests.server.sms_fixtures import PHONE_KEY, add_hall, add_ticket, phone
from tests.support.ports import free_port
from tests.support.procs import REPO

pytestmark = pytest.mark.timeout(120)
N = 24


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[sms]\nsend_mode = "after_finish"\nsend_after_minutes = 0\nquiet_hours = ""\n'
    )
    return {
        **os.environ,
        "HALLRATE_DATABASE_URL": url,
        "HALLRATE_DATA_DIR": str(tmp_path),
        "HALLRATE_PHONE_KEY": PHONE_KEY,
        "HALLRATE_POLICY_FILE": str(policy),
        "HALLRATE_SMS_VISIBILITY_DELAY_SECONDS": "0.3",
        "HALLRATE_SMS_RETRY_BASE_SECONDS": "0",
        "HALLRATE_SMS_CALLS_PER_SECOND": "1000",
        "HALLRATE_SMS_MAX_ATTEMPTS": "20",
        "PYTHONUNBUFFERED": "1",
    }


def _platform(port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "server.cli", "sms", "platform", "--port", str(port)]
    p = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/health", timeout=2):
                return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    raise AssertionError("the SMS platform did not start")


def _texts(port: int) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/phones", timeout=10) as r:
        inbox: dict[str, list[dict[str, object]]] = json.loads(r.read())
    return [t for texts in inbox.values() for t in texts]


def test_sender_killed_at_random_instants_texts_each_due_citizen_exactly_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'hallrate.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        hall = add_hall(s)
        for i in range(N):
            add_ticket(s, hall, f"A{i:03d}", phone(i), None)
        s.commit()
    port = free_port()
    platform = _platform(port)
    env = {
        **_env(tmp_path, url),
        "HALLRATE_SMS_PROVIDER": "local",
        "HALLRATE_SMS_ENDPOINT": f"127.0.0.1:{port}",
    }
    argv = [sys.executable, "-m", "server.cli", "sms", "send"]
    rng = random.Random(int(os.environ.get("SMS_KILL_SEED", "13")))
    kills = 0
    try:
        for _ in range(8):  # runs killed at random instants: during start-up, claims, sends
            p = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.2, 2.0))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            p.wait()
            time.sleep(0.35)  # past the visibility delay: the next run reconciles
        for _ in range(5):  # then runs to completion until nothing is left in flight
            out = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True)
            assert out.returncode == 0, out.stderr[-2000:]
            with sessions() as s:
                busy = s.scalars(
                    select(SmsMessage).where(SmsMessage.state.in_(("queued", "sending")))
                ).all()
            if not busy:
                break
            time.sleep(0.35)
        sent = _texts(port)
    finally:
        platform.terminate()
        platform.wait(10)
    assert kills >= 3  # the test really killed senders mid-run
    per_phone = Counter(str(t["phone"]) for t in sent)
    assert per_phone == Counter({phone(i): 1 for i in range(N)})  # each exactly once
    with sessions() as s:
        rows = s.scalars(select(SmsMessage)).all()
    engine.dispose()
    assert len(rows) == N and len({r.ticket_id for r in rows}) == N
    assert {r.state for r in rows} <= {"sent", "delivered"}
    # every text on the platform is the outbox row's (the correlation id went out with it)
    assert {t["out_id"] for t in sent} == {r.out_id for r in rows}
