"""Issue 18 "Done when" #1, end to end with real processes: a 不满意 press on the real evaluator
firmware (micropython) -> broker -> hallrate gateway -> server opens a bad_rating case; the
alert reaches a webhook receiver (a real HTTP server in this test) within seconds; the case's
day 0 is moved to Wed 30 Sep 2026 and its deadlines recomputed by `hallrate cases recompute
--all` across 国庆 (1-7 Oct off, Sat 10 Oct worked); `hallrate cases tick --now` turns it
yellow, then red (both alerted to the webhook); it is closed with a rectification through the
API, and the 整改率 of September moves from 0/1 to 1/1.

The case's opening day is injected (one UPDATE of opened_at / opened_day, as if the press had
been on 30 Sep): the server opens cases at its own clock, and the test cannot wait for 国庆.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.firmware.conftest import DeviceFactory, device_config, make_device
from tests.gateway.conftest import HallServer, gateway_config_dict, push_queue, wait_for, write_toml
from tests.server.alerts.receiver import Receiver, receiving
from tests.support.brokers import Broker
from tests.support.ports import wait_port
from tests.support.procs import REPO, Proc

pytestmark = [pytest.mark.micropython, pytest.mark.e2e, pytest.mark.timeout(240)]
__all__ = ["make_device"]

ADMIN = ("admin", "admin-password-1")  # HallServer's bootstrap admin
# Quiet hours off (the press happens whenever the test runs); call-back within 2 working days
# so that the tick on the opening day shows no flag yet: none -> yellow -> red.
POLICY = '[alerts]\nquiet_hours = ""\n\n[cases]\nbad_rating_callback_days = 2\n'


class CaseServer(HallServer):
    """HallServer with the test's policy, the in-process case tick off (only the test's
    injected ticks flag), and the alert deliverer polling every 0.5 s."""

    def start(self) -> CaseServer:
        policy = self.workdir / "policy.toml"
        policy.write_text(POLICY, encoding="utf-8")
        self.env = {
            "HALLRATE_DATA_DIR": str(self.workdir),
            "HALLRATE_DATABASE_URL": f"sqlite:///{self.db_path}",
            "HALLRATE_BOOTSTRAP_GATEWAY": "gw-H1:gw-test-key-0123456789:H1",
            "HALLRATE_BOOTSTRAP_WINDOWS": "A01,A02,A03",
            "HALLRATE_BOOTSTRAP_ADMIN": ":".join(ADMIN),
            "HALLRATE_POLICY_FILE": str(policy),
            "HALLRATE_CASES_TICK_SECONDS": "0",
            "HALLRATE_ALERTS_POLL_SECONDS": "0.5",
        }
        argv = [sys.executable, "-m", "server.serve", "--port", str(self.port), "--migrate"]
        self.proc = Proc(
            f"server-{self.port}", [*argv, "--log-level", "warning"], self.workdir, env=self.env
        ).start()
        try:
            wait_port("127.0.0.1", self.port, timeout=60)
        except TimeoutError:
            raise RuntimeError("server did not start:\n" + self.proc.log()) from None
        return self

    def cli(self, *args: str) -> dict[str, Any]:
        """`hallrate <args> --json` against this server's database, as a separate process."""
        out = subprocess.run(
            [sys.executable, "-m", "server.cli", *args, "--json"],
            env={**os.environ, **self.env},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture
def chain(tmp_path: Path, amqtt: Broker) -> Iterator[tuple[CaseServer, int, Receiver]]:
    srv = CaseServer(tmp_path / "server").start()
    cfg = gateway_config_dict(tmp_path, amqtt.url, srv.url)
    path = write_toml(cfg, tmp_path / "hall.toml")
    gw = Proc("gateway", [sys.executable, "-m", "gateway", "--config", str(path)], tmp_path)
    with receiving() as receiver:
        gw.start()
        try:
            wait_port("127.0.0.1", cfg["http"]["port"], timeout=30)
            yield srv, int(cfg["http"]["port"]), receiver
        finally:
            gw.stop()
            srv.stop()


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        r = httpx.post(
            f"{url}/api/v1/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]}
        )
        r.raise_for_status()
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def get(self, path: str, **params: str) -> Any:
        r = httpx.get(f"{self.url}/api/v1{path}", params=params, headers=self.headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, body: dict[str, Any], status: int = 200) -> Any:
        r = httpx.post(f"{self.url}/api/v1{path}", json=body, headers=self.headers, timeout=10)
        assert r.status_code == status, r.text
        return r.json()

    def act(self, case: dict[str, Any], action: str, **body: Any) -> dict[str, Any]:
        body = {"action": action, "version": case["version"], **body}
        return dict(self.post(f"/cases/{case['id']}/actions", body))


def _events(receiver: Receiver) -> list[dict[str, Any]]:
    with receiver.lock:
        return [json.loads(r.body) for r in receiver.requests]


def _wait_event(receiver: Receiver, event: str, timeout: float) -> dict[str, Any]:
    found = wait_for(
        lambda: [e for e in _events(receiver) if e["event"] == event], timeout, f"{event} webhook"
    )
    return dict(found[-1])


def _rectification_rate(api: Api) -> str:
    body = api.get("/cases/figures", hall="H1", period="2026-09")
    return str(body["total"]["rectification_rate"]["rate"]["exact"])


def test_bad_press_opens_a_case_alerts_and_follows_its_deadlines(
    chain: tuple[CaseServer, int, Receiver], amqtt: Broker, make_device: DeviceFactory
) -> None:
    srv, port, receiver = chain
    api = Api(srv.url)
    api.post(
        "/alert-targets",
        {"hall": "H1", "channel": "webhook", "address": receiver.url, "name": "值班负责人"},
        status=201,
    )

    # The citizen presses 不满意 after service at window A03.
    dev = make_device(device_config(amqtt, device="EV-A03")).start()
    dev.wait_event(lambda e: e.get("ev") == "cfg", timeout=30, what="retained cfg from gateway")
    dev.wait_link()
    now = int(time.time())
    push_queue(port, [{"id": "q1", "ev": "call", "t": now - 30, "w": "A03", "tk": "A012"}])
    push_queue(port, [{"id": "q2", "ev": "finish", "t": now - 1, "w": "A03", "tk": "A012"}])
    dev.wait_event(lambda e: e.get("screen") == "ask", timeout=30, what="请评价")
    dev.press("dissatisfied")
    dev.wait_depth(0, timeout=60)  # stored at the server, acked end to end

    cases = wait_for(
        lambda: api.get("/cases", kind="bad_rating")["items"], 30, "the bad_rating case"
    )
    [case] = cases
    assert (case["origin"], case["level"], case["channel"]) == (
        "rating",
        "dissatisfied",
        "evaluator",
    )
    assert (case["window"], case["ticket"], case["state"]) == ("A03", "A012", "accepted")
    # The duty manager's webhook within seconds of the case being stored.
    alert = _wait_event(receiver, "bad_rating", 10)
    arrived = time.time()
    opened = datetime.fromisoformat(case["opened_at"]).timestamp()
    assert arrived - opened < 10, f"webhook {arrived - opened:.1f} s after the case was stored"
    assert alert["case_number"] == case["number"] and alert["hall_code"] == "H1"

    # Day 0 moved to Wed 30 Sep 2026 (10:00 hall-local); the engine recomputes the deadlines.
    db = sqlite3.connect(srv.db_path)
    with db:
        db.execute(
            "UPDATE cases SET opened_at = '2026-09-30 02:00:00.000000', opened_day = '2026-09-30'"
            " WHERE id = ?",
            (case["id"],),
        )
    db.close()
    assert srv.cli("cases", "recompute", "--all") == {"recomputed": 1}
    case = api.get(f"/cases/{case['id']}")
    # Call-back: 2 working days after 30 Sep skip 1-7 Oct: 8, 9 Oct. Rectification, 15:
    # 8, 9, 10 (Sat, 调休), 12-16, 19-23, 26, 27 Oct.
    assert (case["first_due"], case["due"], case["provisional"]) == (
        "2026-10-09",
        "2026-10-27",
        False,
    )
    assert "recomputed" in case["trail"][-1]["note"]
    assert _rectification_rate(api) == "0/1"

    # Time passes (the injected clock of the tick).
    flags = []
    for when in (
        "2026-09-30T10:00:00+08:00",
        "2026-10-08T10:00:00+08:00",
        "2026-10-10T10:00:00+08:00",
    ):
        srv.cli("cases", "tick", "--now", when)
        flags.append(api.get(f"/cases/{case['id']}")["flag"])
    assert flags == ["none", "yellow", "red"]
    assert _wait_event(receiver, "yellow", 10)["case_number"] == case["number"]
    assert _wait_event(receiver, "red", 10)["case_number"] == case["number"]

    # Called back, handled, closed with the rectification: 整改率 moves.
    case = api.get(f"/cases/{case['id']}")  # the ticks bumped its version
    case = api.act(case, "callback", fields={"feedback": "dissatisfied"}, note="已电话回访")
    case = api.act(
        case, "assign", fields={"assignee_office": "综合窗口", "assignee_person": "王五"}
    )
    case = api.act(case, "start")
    case = api.act(case, "reply", fields={"reply": "已向群众致歉并说明"})
    case = api.act(case, "close", fields={"rectification": "窗口人员服务规范培训; 增设导办"})
    assert case["state"] == "closed" and case["called_back_at"]
    assert case["flag"] == "none" and case["closed_on_time"] is False  # closed after 27 Oct
    actions = [e["action"] for e in case["trail"] if e["action"] not in ("flag", "note")]
    assert actions == ["open", "callback", "assign", "start", "reply", "close"]
    assert _rectification_rate(api) == "1/1"
