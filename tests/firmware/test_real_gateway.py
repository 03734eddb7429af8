"""The firmware with the real chain: broker, the hallrate gateway process and the server.

Press -> vote -> gateway -> server -> end-to-end ack -> empty outbox; a broker restart loses
nothing; a ballot burst of 20 drops arrives as exactly 20 evaluations.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.firmware.conftest import DeviceFactory, device_config
from tests.gateway.conftest import HallServer, gateway_config_dict, push_queue, wait_for, write_toml
from tests.support.brokers import Broker
from tests.support.migrated import MigratedTemplates
from tests.support.ports import wait_port
from tests.support.procs import Proc

pytestmark = [pytest.mark.micropython, pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.fixture
def chain(
    tmp_path: Path, broker: Broker, migrated_templates: MigratedTemplates
) -> Iterator[tuple[HallServer, int]]:
    srv = HallServer(tmp_path / "server", migrated_templates).start()
    cfg = gateway_config_dict(tmp_path, broker.url, srv.url)
    path = write_toml(cfg, tmp_path / "hall.toml")
    gw = Proc("gateway", [sys.executable, "-m", "gateway", "--config", str(path)], tmp_path)
    gw.start()
    try:
        wait_port("127.0.0.1", cfg["http"]["port"], timeout=30)
        yield srv, int(cfg["http"]["port"])
    finally:
        gw.stop()
        srv.stop()


def _evals(srv: HallServer, n: int, prefix: str) -> list[dict[str, Any]]:
    def ready() -> list[dict[str, Any]]:
        rows = [r for r in srv.evaluations() if r["key"].startswith(prefix)]
        return rows if len(rows) >= n else []

    return list(wait_for(ready, 60, f"{n} evaluations of {prefix} at the server"))


def test_press_reaches_the_server_and_the_outbox_empties(
    chain: tuple[HallServer, int], broker: Broker, make_device: DeviceFactory
) -> None:
    srv, port = chain
    dev = make_device(device_config(broker, device="EV-A03")).start()
    dev.wait_event(lambda e: e.get("ev") == "cfg", timeout=30, what="retained cfg from gateway")
    dev.wait_link()
    now = int(time.time())
    r = push_queue(port, [{"id": "q1", "ev": "call", "t": now - 30, "w": "A03", "tk": "A012"}])
    assert r.status_code == 200
    push_queue(port, [{"id": "q2", "ev": "finish", "t": now - 1, "w": "A03", "tk": "A012"}])
    dev.wait_event(lambda e: e.get("screen") == "ask", timeout=30, what="请评价")
    mark = dev.mark()
    dev.press("satisfied", bounce=True)
    # The vote exists only after the debounce time: an outbox that is still empty right after
    # the press proves nothing, and the ack could then be lost in the broker stop below.
    dev.wait_event(lambda e: e.get("ev") == "queued", 10, "the vote queued", mark)
    dev.wait_depth(0, timeout=60)  # the gateway's end-to-end ack arrived
    boot = dev.boots[-1]
    rows = _evals(srv, 1, f"EV-A03:{boot}:")
    assert rows[0]["level"] == "satisfied" and rows[0]["ticket"] == "A012"
    assert rows[0]["window"] == "A03" and rows[0]["counted"] == 1

    broker.stop()
    dev.wait_link(up=False)
    for b in (0, 3):
        dev.press(b)
    dev.wait_depth(2)
    broker.start()
    dev.wait_depth(0, timeout=90)
    rows = _evals(srv, 3, f"EV-A03:{boot}:")
    assert sorted(r["key"] for r in rows) == [f"EV-A03:{boot}:{s}" for s in (1, 2, 3)]


def test_ballot_burst_counts_twenty_at_the_server(
    chain: tuple[HallServer, int], broker: Broker, make_device: DeviceFactory
) -> None:
    srv, _ = chain
    dev = make_device(device_config(broker, device="BB-01", kind="ballot_box")).start()
    dev.wait_link()
    for i in range(20):
        dev.beam(i % 3, 30)
        time.sleep(0.1)
    dev.wait_depth(0, timeout=60)
    rows = _evals(srv, 20, f"BB-01:{dev.boots[-1]}:")
    assert len(rows) == 20
    assert sorted(r["level"] for r in rows).count("satisfied") == 7
