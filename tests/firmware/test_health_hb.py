"""Device health in the heartbeat, on the real interpreter (docs/firmware.md, "Device health")."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.firmware.conftest import DeviceFactory, device_config
from tests.firmware.standin_gateway import StandinGateway
from tests.gateway.conftest import HallServer, gateway_config_dict, wait_for, write_toml
from tests.support.brokers import Broker
from tests.support.migrated import MigratedTemplates
from tests.support.ports import wait_port
from tests.support.procs import Proc

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(90)]


def _hbs(gateway: StandinGateway, device: str) -> list[dict[str, Any]]:
    return [m for m in gateway.other if m["k"] == "hb" and m["d"] == device]


def _next_hb(gateway: StandinGateway, device: str, what: str, after: int = 0) -> dict[str, Any]:
    return gateway.wait(lambda: _hbs(gateway, device)[after:], what=what)[0]


def test_heartbeat_carries_version_slot_reset_cause_and_a_passed_self_test(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    dev = make_device(device_config(broker)).start()
    dev.wait_link()
    hb = _next_hb(gateway, "EV-A03", "heartbeat")
    # No boot stage (no conf["root"]): the modules run from a directory, never on probation.
    assert (hb["fw"], hb["sl"], hb["pr"], hb["rc"], hb["stt"]) == (
        "0.1.0",
        "src",
        False,
        "power_on",
        "ok",
    )
    assert hb["lfb"] is None  # the unix port cannot tell its largest free block
    assert hb["oa"] is None and hb["ob"] == 0  # empty outbox: no oldest age
    assert "rb" not in hb and "ft" not in hb and "bc" not in hb
    assert hb["heap"] > 0 and hb["rssi"] == -55 and hb["up"] > 0


def test_boot_stage_info_is_reported_as_given(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    fw = {
        "version": "0.2.0",
        "slot": "b",
        "probation": True,
        "rc": "update",
        "bc": 14,
        "rb": "",
        "ft": "OSError(28,) " + "x" * 80,
    }
    dev = make_device(device_config(broker, fw=fw)).start()
    dev.wait_link()
    hb = _next_hb(gateway, "EV-A03", "heartbeat")
    assert (hb["fw"], hb["sl"], hb["pr"], hb["rc"], hb["bc"]) == ("0.2.0", "b", True, "update", 14)
    assert "rb" not in hb  # empty: no rollback since the last confirmed update
    assert hb["ft"] == fw["ft"][:64]  # the wire bound


def test_a_stuck_button_fails_the_self_test(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    conf = device_config(broker, inputs_at_boot={"button2": 0, "button4": 0})
    dev = make_device(conf).start()
    dev.wait_event(lambda e: e.get("ev") == "self_test", what="self-test log line")
    dev.wait_link()
    assert _next_hb(gateway, "EV-A03", "heartbeat")["stt"] == "button2:stuck button4:stuck"


def test_a_blocked_beam_and_an_open_lid_fail_the_ballot_box_self_test(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    conf = device_config(
        broker, device="BB-1", kind="ballot_box", inputs_at_boot={"beam1": 1, "lid0": 1}
    )
    dev = make_device(conf).start()
    dev.wait_link()
    assert _next_hb(gateway, "BB-1", "heartbeat")["stt"] == "beam1:blocked lid:open"


def test_oldest_age_of_an_unacked_event_grows_and_clears_after_the_ack(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    gateway.auto_ack = False
    dev = make_device(device_config(broker)).start()
    dev.wait_link()
    dev.press(0)
    dev.wait_depth(1)
    n = len(_hbs(gateway, "EV-A03"))
    first = _next_hb(gateway, "EV-A03", "heartbeat with a pending event", n)
    assert first["ob"] == 1 and isinstance(first["oa"], int) and first["oa"] >= 0
    later = gateway.wait(
        lambda: [
            h for h in _hbs(gateway, "EV-A03") if h["oa"] is not None and h["oa"] > first["oa"]
        ],
        what="an older oldest age",
    )[0]
    assert later["ob"] == 1
    gateway.auto_ack = True
    gateway.ack_all("EV-A03")
    dev.wait_depth(0)
    n = len(_hbs(gateway, "EV-A03"))
    assert _next_hb(gateway, "EV-A03", "heartbeat after the ack", n)["oa"] is None


def test_health_reaches_the_gateway_status_and_the_servers_device_table(
    broker: Broker,
    make_device: DeviceFactory,
    tmp_path: Path,
    migrated_templates: MigratedTemplates,
) -> None:
    """The real chain: firmware -> broker -> the gateway process -> /status -> the server."""
    srv = HallServer(tmp_path / "server", migrated_templates).start()
    cfg = gateway_config_dict(
        tmp_path, broker.url, srv.url, health={"check_s": 0.5, "push_interval_s": 5}
    )
    path = write_toml(cfg, tmp_path / "hall.toml")
    gw = Proc("gateway", [sys.executable, "-m", "gateway", "--config", str(path)], tmp_path)
    gw.start()
    try:
        port = int(cfg["http"]["port"])
        wait_port("127.0.0.1", port, timeout=30)
        conf = device_config(broker, device="EV-A03", inputs_at_boot={"button1": 0})
        make_device(conf).start().wait_link()

        def status_row() -> dict[str, Any] | None:
            st = httpx.get(f"http://127.0.0.1:{port}/status", timeout=5).json()
            row = next(d for d in st["devices"] if d["device"] == "EV-A03")
            return row if row.get("self_test") else None

        row = wait_for(status_row, 30, "the device's health in /status")
        assert (row["fw"], row["slot"], row["probation"], row["reset_cause"]) == (
            "0.1.0",
            "src",
            False,
            "power_on",
        )
        assert row["self_test"] == "button1:stuck" and "self_test" in row["alarms"]
        assert row["online"] and row["heap"] > 0 and row["largest_free"] is None

        def server_row() -> dict[str, Any] | None:
            con = sqlite3.connect(srv.db_path)
            try:
                r = con.execute("SELECT snapshot FROM device_health WHERE code='EV-A03'").fetchone()
            finally:
                con.close()
            snap = None if r is None else json.loads(r[0])
            return snap if snap and snap.get("self_test") else None

        snap = wait_for(server_row, 30, "the device's health at the server")
        assert snap["self_test"] == "button1:stuck" and snap["online"] is True
    finally:
        gw.stop()
        srv.stop()
