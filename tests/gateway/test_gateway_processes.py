"""Real processes: the gateway killed with SIGKILL at random instants, and the server gone for a
while, while devices send votes. The server must end up with every vote exactly once."""

from __future__ import annotations

import random
import sys
import threading
import time
from pathlib import Path

import pytest

from gateway.journal import Journal
from tests.gateway.conftest import (
    HALL,
    HallServer,
    gateway_config_dict,
    wait_for,
    write_toml,
)
from tests.gateway.device_model import WireDevice
from tests.support.brokers import Broker
from tests.support.ports import wait_port
from tests.support.procs import Proc


def start_gateway(tmp_path: Path, broker: Broker, server_url: str) -> tuple[Proc, int]:
    cfg = gateway_config_dict(tmp_path, broker.url, server_url)
    cfg["broker"]["client_id"] = "gw-H1-fixed"  # the same persistent session across restarts
    path = write_toml(cfg, tmp_path / "hall.toml")
    proc = Proc(
        "gateway", [sys.executable, "-m", "gateway", "--config", str(path)], tmp_path
    ).start()
    wait_port("127.0.0.1", cfg["http"]["port"], timeout=30)
    return proc, int(cfg["http"]["port"])


@pytest.mark.timeout(240)
def test_kill_9_at_random_instants_loses_and_doubles_nothing(
    tmp_path: Path, broker: Broker, hall_server: HallServer
) -> None:
    rng = random.Random(20261123)
    gw, port = start_gateway(tmp_path, broker, hall_server.url)
    devices = [
        WireDevice(broker.host, broker.port, HALL, d, resend_s=0.7)
        for d in ("EV-A01", "EV-A02", "EV-A03")
    ]
    box = WireDevice(broker.host, broker.port, HALL, "BB-01", kind="ballot_box", resend_s=0.7)
    sent: list[str] = []
    done = threading.Event()

    def publish() -> None:
        now = int(time.time())
        for i in range(240):
            if i % 4 == 3:
                s = box.drop(i % 3, tk=f"A{i:03d}" if i % 8 else None, t=now + i)
                sent.append(f"BB-01:{box.boot}:{s}")
            else:
                d = devices[i % 4]
                s = d.vote("satisfied", t=now + i)
                sent.append(f"{d.device}:{d.boot}:{s}")
            time.sleep(0.02)
        done.set()

    try:
        for d in [*devices, box]:
            wait_for(d.connected.is_set, 20, "device connected")
        t = threading.Thread(target=publish)
        t.start()
        kills = kills_while_serving = 0
        while not done.is_set() or kills_while_serving < 2 or kills < 4:
            if kills % 2 == 0:
                # Let it come up and take traffic, then kill it at a random instant.
                wait_port("127.0.0.1", port, timeout=30)
                kills_while_serving += 1
                time.sleep(rng.uniform(0.0, 0.8))
            else:
                # Kill at a random instant of start-up, recovery or catching up.
                time.sleep(rng.uniform(0.1, 1.0))
            gw.kill()  # SIGKILL: no clean shutdown, no flush
            kills += 1
            time.sleep(rng.uniform(0.0, 0.3))
            gw.start()
        t.join()
        for d in [*devices, box]:
            assert d.wait_all_acked(60), f"{d.device} still has {d.pending()} unacked"
        expected = set(sent)
        assert len(expected) == 240

        def all_arrived() -> bool:
            return {r["key"] for r in hall_server.evaluations()} == expected

        wait_for(all_arrived, 60, "every vote at the server")
        rows = hall_server.evaluations()
        assert len(rows) == 240  # nothing doubled
        j = Journal(tmp_path / "journal.db")
        try:
            assert j.counts()["device_events"] == 240
        finally:
            j.close()
        assert gw.log().count("=== start") == kills + 1
        assert gw.log().count('"event": "recovered"') >= kills_while_serving
    finally:
        for d in [*devices, box]:
            d.close()
        gw.stop()


@pytest.mark.timeout(180)
def test_server_outage_loses_nothing(
    tmp_path: Path, broker: Broker, hall_server: HallServer
) -> None:
    gw, port = start_gateway(tmp_path, broker, hall_server.url)
    dev = WireDevice(broker.host, broker.port, HALL, "EV-A01", resend_s=1.0)
    try:
        wait_for(dev.connected.is_set, 20, "device connected")
        now = int(time.time())
        first = [dev.vote("satisfied", t=now + i) for i in range(10)]
        wait_for(lambda: len(hall_server.evaluations()) == 10, 30, "first votes forwarded")
        hall_server.stop()
        later = [dev.vote("dissatisfied", t=now + 100 + i) for i in range(50)]
        # Stored at the gateway (acked end to end) while the server is away.
        assert dev.wait_all_acked(30)
        j = Journal(tmp_path / "journal.db")
        try:
            wait_for(lambda: j.counts()["records_pending"] == 50, 20, "50 records in backlog")
        finally:
            j.close()
        # The gateway itself restarts during the outage too.
        gw.kill()
        gw.start()
        wait_port("127.0.0.1", port, timeout=30)
        time.sleep(1.0)
        hall_server.start()
        expected = {f"EV-A01:{dev.boot}:{s}" for s in first + later}
        wait_for(
            lambda: {r["key"] for r in hall_server.evaluations()} == expected,
            60,
            "backlog forwarded after the outage",
        )
        assert len(hall_server.evaluations()) == 60
    finally:
        dev.close()
        gw.stop()
