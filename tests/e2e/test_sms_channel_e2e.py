"""Issue #13, done-when: tickets with phones from the queue system, through texts sent by the real
Alibaba Cloud SDK to the local SMS platform, to replies pushed back, and the SMS rate on
/api/v1/scores, exactly. Every part is its own process: broker, gateway, server, the local
platform (`hallrate sms platform`) and the sender (`hallrate sms send`).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN, GATEWAY_ID, GATEWAY_KEY, HALL, ServerProc
from tests.e2e.test_walking_skeleton import current_quarter, hall_toml, push_queue
from tests.support.brokers import Broker
from tests.support.ports import free_port, wait_port
from tests.support.procs import Proc, tool, wait_until

PHONE_KEY = "e2e-phone-key-0123456789abcdef0123456789abcdef"
CALLBACK_TOKEN = "e2e-sms-callback-token-0123456789abcdef"
SERVER_FLAGS = ("--migrate", "--log-level", "warning")
# (ticket, phone, the citizen's reply, the level it means)
CITIZENS = [
    ("A101", "13800000101", "1", "very_satisfied"),
    ("A102", "13800000102", "满意，谢谢", "satisfied"),
    ("A103", "13800000103", "３", "basically_satisfied"),
    ("A104", "13800000104", "不满意", "dissatisfied"),
]


def _sim(port: int, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/_sim/{path}",
        data=data,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_sms_channel_from_queue_phone_to_score(broker: Broker, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'server.db'}"
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[sms]\nsend_mode = "after_finish"\nsend_after_minutes = 0\nquiet_hours = ""\n'
    )
    common = {
        "HALLRATE_DATABASE_URL": db_url,
        "HALLRATE_DATA_DIR": str(tmp_path / "server-data"),
        "HALLRATE_PHONE_KEY": PHONE_KEY,
        "HALLRATE_POLICY_FILE": str(policy),
    }
    server_port, platform_port = free_port(), free_port()
    server = Proc(
        "server",
        [sys.executable, "-m", "server.serve", "--port", str(server_port), *SERVER_FLAGS],
        tmp_path,
        env={
            **common,
            "HALLRATE_BOOTSTRAP_ADMIN": f"{ADMIN[0]}:{ADMIN[1]}",
            "HALLRATE_BOOTSTRAP_GATEWAY": f"{GATEWAY_ID}:{GATEWAY_KEY}:{HALL}",
            "HALLRATE_BOOTSTRAP_WINDOWS": "A03",
            "HALLRATE_SMS_CALLBACK_TOKEN": CALLBACK_TOKEN,
        },
    ).start()
    srv = ServerProc(server, f"http://127.0.0.1:{server_port}", db_url)
    callback = f"{srv.url}/api/v1/sms/replies/local?token={CALLBACK_TOKEN}"
    push = ("--aliyun-callback", callback, "--push-interval", "0.2")
    platform = Proc(
        "sms-platform",
        [tool("hallrate"), "sms", "platform", "--port", str(platform_port), *push],
        tmp_path,
    ).start()
    http_port = free_port()
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(broker, srv.url, http_port, tmp_path / "journal.db"))
    gateway = Proc(
        "gateway", [tool("hallrate"), "gateway", "--config", str(conf)], tmp_path
    ).start()
    sender_env = {
        **common,
        "HALLRATE_SMS_PROVIDER": "local",
        "HALLRATE_SMS_ENDPOINT": f"127.0.0.1:{platform_port}",
    }
    try:
        for port in (server_port, platform_port, http_port):
            wait_port("127.0.0.1", port, timeout=60)
        # The queue system finishes four tickets whose citizens left a phone number (`ph`).
        now = int(time.time())
        events: list[dict[str, Any]] = [
            {"id": "q-login", "ev": "login", "t": now - 300, "w": "A03", "staff": "1001"}
        ]
        for i, (tk, ph, _, _) in enumerate(CITIZENS):
            events.append({"id": f"q-call-{tk}", "ev": "call", "t": now - 200 + i, "w": "A03",
                           "tk": tk, "staff": "1001"})  # fmt: skip
            events.append({"id": f"q-fin-{tk}", "ev": "finish", "t": now - 100 + i, "w": "A03",
                           "tk": tk, "staff": "1001", "ph": ph})  # fmt: skip
        push_queue(http_port, *events)

        def tickets_with_phones() -> list[dict[str, Any]] | None:
            items = srv.get("/tickets", hall=HALL)["items"]
            with_phone = [t for t in items if t.get("phone")]
            return items if len(with_phone) == len(CITIZENS) else None

        tickets = wait_until(tickets_with_phones, 60, 0.5, "the tickets with phones on the server")
        assert all("****" in t["phone"] for t in tickets)  # masked in the API

        # Nobody rated on site: every citizen gets one text, through the real SDK.
        out = Proc("sms-send", [tool("hallrate"), "sms", "send"], tmp_path, env=sender_env)
        out.start()
        assert out.popen is not None and out.popen.wait(120) == 0, out.log()
        inbox = _sim(platform_port, "phones")
        assert sorted(inbox) == sorted(ph for _, ph, _, _ in CITIZENS)
        assert all(len(texts) == 1 for texts in inbox.values())

        # The citizens answer; the platform pushes their replies to the server's callback.
        for _, ph, reply, _ in CITIZENS:
            _sim(platform_port, "reply", {"phone": ph, "text": reply})

        def sms_scored() -> dict[str, Any] | None:
            score = srv.get("/scores", hall=HALL, period=current_quarter())
            sms = score["result"]["channels"].get("sms")
            return score if sms and sms["total"] == len(CITIZENS) else None

        score = wait_until(sms_scored, 60, 0.5, "the SMS replies in the score API")
        sms = score["result"]["channels"]["sms"]
        expected = {lv: 0 for lv in sms["counts"]}
        for *_, level in CITIZENS:
            expected[level] += 1
        assert sms["counts"] == expected
        # 满意率 = 满意次数 / 短信评价总次数, the levels counted as 满意 being the policy's.
        satisfied_levels = set(score["result"]["policy"]["satisfied_levels"])
        want = Fraction(sum(1 for *_, lv in CITIZENS if lv in satisfied_levels), len(CITIZENS))
        assert Fraction(sms["satisfied"], sms["total"]) == want
        # Each rating is attributed to its ticket, window and staff member.
        items = srv.get("/evaluations", hall=HALL, channel="sms")["items"]
        assert sorted(e["ticket"] for e in items) == sorted(tk for tk, *_ in CITIZENS)
        assert {(e["window"], e["staff"]) for e in items} == {("A03", "1001")}
        # A second run of the sender texts nobody again.
        again = Proc("sms-send-2", [tool("hallrate"), "sms", "send"], tmp_path, env=sender_env)
        again.start()
        assert again.popen is not None and again.popen.wait(120) == 0, again.log()
        assert all(len(t) == 1 for t in _sim(platform_port, "phones").values())
    except Exception:
        sys.stderr.write(
            f"--- gateway log\n{gateway.log()[-4000:]}\n--- server log\n{server.log()[-4000:]}\n"
            f"--- platform log\n{platform.log()[-3000:]}\n"
        )
        raise
    finally:
        gateway.stop()
        platform.stop()
        server.stop()
