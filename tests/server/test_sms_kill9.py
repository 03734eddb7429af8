"""Done-when of issue #13: kill -9 of `hallrate sms send` at random instants never texts a
citizen twice and never forgets one. Real processes: the sender runs as a subprocess against a
platform process-independent of it (here the TEMPORARY stand-in, tests/support/sms_standin.py,
until the local SMS platform of simulator/sms_platform is merged), and is SIGKILLed mid-run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from server.db import make_engine, make_sessionmaker
from server.migrate import upgrade
from server.models import SmsMessage
from tests.server.sms_fixtures import PHONE_KEY, add_hall, add_ticket, phone
from tests.support.procs import REPO
from tests.support.sms_standin import Platform, serve

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
    platform = Platform(delay_s=0.03)
    http = serve(platform)
    base = f"http://127.0.0.1:{http.server_address[1]}"
    env = _env(tmp_path, url)
    argv = [sys.executable, "-m", "tests.support.sms_standin", "send", base]
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
    finally:
        http.shutdown()
    assert kills >= 3  # the test really killed senders mid-run
    per_phone = Counter(s["phone"] for s in platform.sent)
    assert per_phone == Counter({phone(i): 1 for i in range(N)})  # each exactly once
    with sessions() as s:
        rows = s.scalars(select(SmsMessage)).all()
    engine.dispose()
    assert len(rows) == N and len({r.ticket_id for r in rows}) == N
    assert {r.state for r in rows} <= {"sent", "delivered"}
    # every text on the platform is the outbox row's (the correlation id went out with it)
    assert {s["out_id"] for s in platform.sent} == {r.out_id for r in rows}
