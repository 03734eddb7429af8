"""The walking skeleton: broker, server and gateway as separate processes, the real firmware
on the micropython interpreter as one evaluator. A window finishes a ticket, the evaluator asks
for a rating, a citizen presses 满意, and the vote shows up in the server's score API,
attributed to its window and ticket.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from simulator.firmware_process import FirmwareDevice
from tests.e2e.conftest import GATEWAY_ID, GATEWAY_KEY, HALL, start_server
from tests.support.brokers import Broker
from tests.support.ports import free_port, wait_port
from tests.support.procs import Proc, tool, wait_until

QUEUE_TOKEN = "e2e-queue-token"


def hall_toml(broker: Broker, server_url: str, http_port: int, journal: Path) -> str:
    return f"""
hall = "{HALL}"
windows = ["A03"]

[broker]
url = "{broker.url}"
client_id = "hallrate-gw-e2e"

[server]
url = "{server_url}"
api_key = "{GATEWAY_KEY}"
gateway_id = "{GATEWAY_ID}"

[journal]
path = "{journal}"

[http]
host = "127.0.0.1"
port = {http_port}
queue_token = "{QUEUE_TOKEN}"

[forward]
interval_s = 0.2
backoff_initial_s = 0.2
backoff_max_s = 2

[staff]
"1001" = "张三"

[devices.EV-A03]
kind = "evaluator"
window = "A03"
"""


def current_quarter() -> str:
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    return f"{now.year}Q{(now.month - 1) // 3 + 1}"


def push_queue(port: int, *events: dict) -> None:  # type: ignore[type-arg]
    r = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/queue/events",
        json={"events": list(events)},
        headers={"Authorization": f"Bearer {QUEUE_TOKEN}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text


@pytest.mark.e2e
@pytest.mark.micropython
@pytest.mark.timeout(180)
def test_press_on_real_firmware_is_counted_in_the_score(
    broker: Broker, micropython: str, tmp_path: Path
) -> None:
    server = start_server(tmp_path, f"sqlite:///{tmp_path / 'server.db'}")
    http_port = free_port()
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(broker, server.url, http_port, tmp_path / "journal.db"))
    gateway = Proc(
        "gateway", [tool("hallrate"), "gateway", "--config", str(conf)], tmp_path
    ).start()
    device = FirmwareDevice(
        micropython,
        {
            "device": "EV-A03",
            "hall": HALL,
            "kind": "evaluator",
            "broker_host": broker.host,
            "broker_port": broker.port,
            "heartbeat": 2,
            "resend_ms": 1000,
        },
        tmp_path / "device",
    )
    try:
        wait_port("127.0.0.1", http_port, timeout=30)
        device.start()
        device.wait_link(True, timeout=20)
        # The gateway's retained config binds the evaluator to window A03.
        device.wait_event(lambda e: e.get("ev") == "cfg", timeout=20, what="retained cfg")

        now = int(time.time())
        mark = device.mark()
        push_queue(
            http_port,
            {"id": "q1", "ev": "login", "t": now - 60, "w": "A03", "staff": "1001"},
            {"id": "q2", "ev": "call", "t": now - 50, "w": "A03", "tk": "A012", "staff": "1001"},
            {"id": "q3", "ev": "finish", "t": now, "w": "A03", "tk": "A012", "staff": "1001"},
        )
        # The finish makes the gateway ask this evaluator for a rating: it shows 请评价.
        device.wait_event(
            lambda e: e.get("ev") == "display" and "请评价" in str(e.get("text")),
            timeout=20,
            what="rating request on the display",
            start=mark,
        )
        mark = device.mark()
        device.press("satisfied")
        # The vote leaves the outbox only after the gateway's end-to-end ack (it is queued only
        # after the debounce time: an empty outbox right after the press would prove nothing).
        device.wait_event(lambda e: e.get("ev") == "queued", 10, "the vote queued", mark)
        device.wait_depth(0, timeout=30)

        def counted() -> dict | None:  # type: ignore[type-arg]
            score = server.get("/scores", hall=HALL, period=current_quarter())
            ev = score["result"]["channels"].get("evaluator")
            return score if ev and ev["total"] == 1 else None

        score = wait_until(counted, timeout=30, interval=0.5, what="the vote in the score API")
        evaluator = score["result"]["channels"]["evaluator"]
        assert evaluator["counts"]["satisfied"] == 1
        assert evaluator["satisfied"] == 1
        assert score["result"]["score"]["percent"] == "100.00"
        assert set(score["result"]["missing_groups"]) == {"sms", "phone"}

        # Attributed to the window, the ticket and the staff member logged in there.
        items = server.get("/evaluations", hall=HALL)["items"]
        assert len(items) == 1
        vote = items[0]
        assert (vote["window"], vote["ticket"], vote["staff"]) == ("A03", "A012", "1001")
        assert vote["channel"] == "evaluator" and vote["level"] == "satisfied"
        assert vote["key"].startswith("EV-A03:")
    except Exception:
        sys.stderr.write(
            f"--- gateway log\n{gateway.log()}\n--- server log\n{server.proc.log()}\n"
            f"--- device log\n{device.log()}\n--- broker log\n{broker.log()[-3000:]}\n"
        )
        raise
    finally:
        device.kill()
        gateway.stop()
        server.proc.stop()
