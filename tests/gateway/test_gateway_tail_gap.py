"""A lost last event, seen from heartbeats, against a real broker (amqtt and Mosquitto) and the
real server (report 4 of issue #11)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from tests.gateway.conftest import HALL, HallServer, gateway_config, wait_for
from tests.gateway.device_model import WireDevice
from tests.support.brokers import Broker

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def gateway(tmp_path: Path, broker: Broker, hall_server: HallServer) -> Iterator[Gateway]:
    gw = Gateway(gateway_config(tmp_path, broker.url, hall_server.url))
    gw.start()
    assert gw.link is not None
    wait_for(gw.link.connected.is_set, 20, "gateway connected")
    yield gw
    gw.stop()


def test_heartbeats_open_a_tail_gap_and_the_held_back_event_is_resent(
    gateway: Gateway, broker: Broker, hall_server: HallServer
) -> None:
    dev = WireDevice(broker.host, broker.port, HALL, "EV-A02", resend_s=3600)  # no timer
    try:
        wait_for(dev.connected.is_set, 10, "device connected")
        now = int(time.time())
        s1 = dev.vote(t=now)
        assert dev.wait_all_acked(20)  # s1
        s2 = dev.vote(t=now + 1, send=False)  # held back: the last event, lost on the way
        status: dict[str, Any] = {}

        def gap_open() -> bool:
            nonlocal status
            dev.heartbeat()
            url = f"http://127.0.0.1:{gateway.cfg.http_port}/status"
            status = httpx.get(url).json()
            return bool(status["open_gaps"])

        wait_for(gap_open, 20, "a gap opened by heartbeats")
        gaps = [(g["device"], g["first"], g["last"]) for g in status["open_gaps"]]
        assert gaps == [("EV-A02", s2, s2)]
        wait_for(lambda: dev.resend_requests, 20, "resend request")
        assert (dev.resend_requests[0]["from"], dev.resend_requests[0]["to"]) == (s2, s2)
        assert dev.wait_all_acked(20)  # answered from the outbox
        wait_for(lambda: len(hall_server.evaluations()) == 2, 20, "2 votes at the server")
        keys = {r["key"] for r in hall_server.evaluations()}
        assert keys == {f"EV-A02:{dev.boot}:{s}" for s in (s1, s2)}
    finally:
        dev.close()
