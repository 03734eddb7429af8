"""Device health at the gateway: heartbeat health fields and alarms in /status, /metrics and
`hallrate gateway status`; the offline-in-opening-hours alert; snapshots pushed to the server."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware import wire
from gateway.app import Gateway
from gateway.cli import main as cli_main
from gateway.cli import render_status
from gateway.config import ConfigError
from gateway.health.config import parse_health
from gateway.health.monitor import HealthMonitor
from gateway.journal import Journal
from gateway.metrics import GatewayMetrics
from tests.gateway.conftest import (
    HALL,
    HallServer,
    gateway_config,
    gateway_config_dict,
    wait_for,
    write_toml,
)
from tests.gateway.device_model import WireDevice
from tests.support.brokers import Broker

pytestmark = pytest.mark.timeout(120)

HEALTH = {
    "fw": "0.2.0",
    "sl": "b",
    "pr": True,
    "rc": "update",
    "bc": 7,
    "lfb": 12000,
    "oa": 42,
    "rb": "",
    "stt": "button2:stuck",
}


@pytest.fixture
def gateway(tmp_path: Path, broker: Broker, hall_server: HallServer) -> Iterator[Gateway]:
    cfg = gateway_config(
        tmp_path,
        broker.url,
        hall_server.url,
        hours={"open": ["00:00-24:00"], "days": "all"},  # always open: offline is an alert
        health={"low_heap_bytes": 16000, "check_s": 0.2, "push_interval_s": 2},
    )
    gw = Gateway(cfg)
    gw.start()
    assert gw.link is not None
    wait_for(gw.link.connected.is_set, 20, "gateway connected")
    yield gw
    gw.stop()


def _status(gw: Gateway) -> dict[str, Any]:
    return httpx.get(f"http://127.0.0.1:{gw.cfg.http_port}/status").json()


def _dev(st: dict[str, Any], device: str) -> dict[str, Any]:
    return next(d for d in st["devices"] if d["device"] == device)


def test_health_fields_alarms_metrics_cli_and_push(
    gateway: Gateway, broker: Broker, hall_server: HallServer, caplog: pytest.LogCaptureFixture
) -> None:
    dev = WireDevice(broker.host, broker.port, HALL, "EV-A01")
    try:
        wait_for(lambda: dev.configs, 20, "config at the device")
        with dev.lock:
            dev.seq += 1
            jam = wire.alarm(dev.device, dev.boot, dev.seq, "jam", None, 5000)
            dev.outbox[dev.seq] = jam
        dev._send(jam)
        assert dev.wait_all_acked(20)
        hb = wire.heartbeat(
            "EV-A01", dev.boot, None, 9000, dev.seq, 0, heap=9000, rssi=-70, health=HEALTH
        )
        dev.client.publish(dev.topic("hb"), wire.encode(hb), qos=0)
        st = wait_for(
            lambda: (s := _status(gateway)) and _dev(s, "EV-A01").get("slot") == "b" and s,
            10,
            "heartbeat health in /status",
        )
        d = _dev(st, "EV-A01")
        assert (d["fw"], d["slot"], d["probation"], d["reset_cause"], d["boots"]) == (
            "0.2.0",
            "b",
            True,
            "update",
            7,
        )
        assert (d["largest_free"], d["outbox_oldest_s"], d["self_test"]) == (
            12000,
            42,
            "button2:stuck",
        )
        assert d["uptime_s"] == 9 and d["rolled_back"] == ""
        assert d["alarms"] == ["jam", "low_heap", "self_test"]
        # EV-A02 is configured and has never been seen: offline while the hall is open.
        assert _dev(st, "EV-A02")["alarms"] == ["offline"] and not _dev(st, "EV-A02")["online"]
        metrics = wait_for(
            lambda: (
                (m := httpx.get(f"http://127.0.0.1:{gateway.cfg.http_port}/metrics").text)
                and 'hallrate_gateway_device_largest_free_bytes{device="EV-A01"} 12000.0' in m
                and m
            ),
            10,
            "health gauges",
        )
        assert 'hallrate_gateway_device_alarm{alarm="jam",device="EV-A01"} 1.0' in metrics
        assert 'hallrate_gateway_device_alarm{alarm="offline",device="EV-A02"} 1.0' in metrics
        assert "hallrate_gateway_devices_offline_in_hours 3.0" in metrics  # A02, A03, BB-01
        assert 'hallrate_gateway_device_probation{device="EV-A01"} 1.0' in metrics
        assert (
            'hallrate_gateway_device_info{device="EV-A01",fw="0.2.0",reset_cause="update",'
            'slot="b"} 1.0' in metrics
        )
        table = render_status(st)
        header = table.splitlines()[2].split()
        assert header[:9] == [
            "device",
            "kind",
            "window",
            "online",
            "fw",
            "slot",
            "reset",
            "boots",
            "heap",
        ]
        row = next(line for line in table.splitlines() if line.startswith("EV-A01"))
        assert "0.2.0*" in row and "jam,low_heap,self_test" in row and "42s" in row
        assert "(fw*: on probation, the update not confirmed yet)" in table
        # The alert's log line, once per device going offline (a monitor of our own, so the
        # log comes from this thread).
        mon = HealthMonitor(gateway.cfg, GatewayMetrics())
        with caplog.at_level(logging.INFO, logger="hallrate.gateway.health"):
            mon.check()
            mon.check()
        offline_logs = [
            r
            for r in caplog.records
            if r.getMessage() == "device_offline_in_hours" and r.threadName == "MainThread"
        ]
        devices = [r.fields["device"] for r in offline_logs]  # type: ignore[attr-defined]
        assert devices == ["BB-01", "EV-A02", "EV-A03"]

        # The server's device table (pushed by the gateway's health thread).
        def server_row() -> dict[str, Any] | None:
            con = sqlite3.connect(hall_server.db_path)
            try:
                r = con.execute(
                    "SELECT snapshot, alarms FROM device_health WHERE code='EV-A01'"
                ).fetchone()
            finally:
                con.close()
            return None if r is None else {**json.loads(r[0]), "_alarms": json.loads(r[1])}

        row_s = wait_for(
            lambda: (r := server_row()) and r["slot"] == "b" and r, 20, "health at the server"
        )
        assert row_s["_alarms"] == ["jam", "low_heap", "self_test"] and row_s["boots"] == 7
        con = sqlite3.connect(hall_server.db_path)
        try:
            alerts = con.execute(
                "SELECT alarm FROM device_alerts WHERE code='EV-A02' AND cleared_at IS NULL"
            ).fetchall()
        finally:
            con.close()
        assert alerts == [("offline",)]
    finally:
        dev.close()


def test_old_journal_gets_the_health_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE devices (device TEXT PRIMARY KEY, kind TEXT, state TEXT, boot TEXT,"
        " fw TEXT, rssi INTEGER, outbox INTEGER, heap INTEGER, last_seq INTEGER, last_seen REAL)"
    )
    con.execute("INSERT INTO devices (device, fw) VALUES ('EV-A01', '0.1.0')")
    con.commit()
    con.close()
    j = Journal(path)
    try:
        (row,) = j.devices()
        assert row["fw"] == "0.1.0" and row["slot"] is None and row["self_test"] is None
    finally:
        j.close()
    Journal(path).close()  # opening again adds nothing twice


def test_bad_health_table_is_a_config_error() -> None:
    assert parse_health({}).low_heap_bytes == 16384
    for bad in (
        {"low_heap_bytes": -1},
        {"check_s": "fast"},
        {"nope": 1},
        {"push_interval_s": True},
    ):
        with pytest.raises(ConfigError):
            parse_health({"health": bad})


def test_cli_refuses_a_bad_health_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = gateway_config_dict(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    data["health"] = {"low_heap_bytes": -5}
    path = write_toml(data, tmp_path / "hall.toml")
    assert cli_main(["status", "--config", str(path)]) == 2
    assert "health.low_heap_bytes must be between 0 and" in capsys.readouterr().err


def test_status_from_the_journal_has_the_rollout_and_full_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a running gateway, `hallrate gateway status` reads the journal: the roll-out is
    there as in /status, and a configured device never seen has every health key (null)."""
    from gateway.ota.config import Settings
    from gateway.ota.store import Store

    data = gateway_config_dict(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    path = write_toml(data, tmp_path / "hall.toml")
    j = Journal(tmp_path / "journal.db")
    try:
        Store(j).start(
            "0.3.0", Settings(), {"EV-A01": 0, "EV-A02": 1}, {"EV-A01": "A01", "EV-A02": "A02"}
        )
    finally:
        j.close()
    assert cli_main(["status", "--config", str(path), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["source"].startswith("journal ")
    assert st["rollout"]["state"] == "running" and st["rollout"]["release"] == "0.3.0"
    assert [d["device"] for d in st["rollout"]["devices"]] == ["EV-A01", "EV-A02"]
    rows = {d["device"]: d for d in st["devices"]}
    assert rows and all(d["last_seen"] is None for d in rows.values())  # none seen yet
    for key in ("fw", "slot", "probation", "heap", "rssi", "outbox", "self_test", "uptime_s"):
        assert all(key in d and d[key] is None for d in rows.values()), key
    assert cli_main(["status", "--config", str(path)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("roll-out 1 of 0.3.0: running")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"low_heap_bytes": -1}, "health.low_heap_bytes must be between 0 and 1073741824, got -1"),
        (
            {"tamper_hold_s": 2592001},
            "health.tamper_hold_s must be between 0 and 2592000, got 2592001",
        ),
        ({"check_s": 0.05}, "health.check_s must be between 0.1 and 3600, got 0.05"),
        ({"push_interval_s": 0}, "health.push_interval_s must be between 1 and 86400, got 0"),
        ({"nope": 1}, "health: unknown key nope"),
    ],
)
def test_health_range_messages_print_whole_numbers(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_health({"health": table})
    assert str(e.value) == message


def test_the_online_status_health_reaches_status_and_the_cli(
    gateway: Gateway, broker: Broker
) -> None:
    """rc bc ft uid mp of the retained online status (docs/protocol.md, status) in /status."""
    dev = WireDevice(broker.host, broker.port, HALL, "EV-A03")
    try:
        health = {
            "rc": "crash",
            "bc": 12,
            "ft": "sample: OSError(28,)",
            "uid": "a0b1c2d3e4f5",
            "mp": "1.28.0 ESP32_GENERIC_S3-SPIRAM_OCT",
        }
        st = wire.status("EV-A03", dev.boot, "online", "evaluator", "0.3.0", None, health)
        dev.client.publish(dev.topic("status"), wire.encode(st), qos=1, retain=True)
        got = wait_for(
            lambda: (s := _status(gateway)) and _dev(s, "EV-A03").get("uid") and s,
            10,
            "status health in /status",
        )
        d = _dev(got, "EV-A03")
        assert (d["reset_cause"], d["boots"], d["fatal"], d["uid"], d["micropython"]) == (
            "crash",
            12,
            "sample: OSError(28,)",
            "a0b1c2d3e4f5",
            "1.28.0 ESP32_GENERIC_S3-SPIRAM_OCT",
        )
        table = render_status(got)
        row = next(line for line in table.splitlines() if line.startswith("EV-A03"))
        assert " crash " in row and " 12 " in row
        assert "EV-A03: last fatal error: sample: OSError(28,)" in table
    finally:
        dev.close()
