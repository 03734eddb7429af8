"""A/B slots, probation and rollback on the real interpreter against real Mosquitto, with the
stand-in gateway: a device root laid out as a deploy leaves it (tests/firmware/device_root.py),
run in board mode (exit 3 = reset: the process is started again)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware import loader
from firmware.wire import device_topic
from simulator.firmware_process import FirmwareDevice
from tests.firmware import device_root
from tests.firmware.conftest import DeviceFactory, device_config
from tests.firmware.standin_gateway import StandinGateway
from tests.support.brokers import Mosquitto

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(240)]


@pytest.fixture
def gateway(mosquitto: Mosquitto) -> Iterator[StandinGateway]:
    gw = StandinGateway(mosquitto.host, mosquitto.port)
    yield gw
    gw.close()


def _board(
    make_device: DeviceFactory, mosquitto: Mosquitto, root: Path, **extra: Any
) -> FirmwareDevice:
    conf = device_config(mosquitto, device="EV-OTA", root=str(root), **extra)
    dev = make_device(conf, workdir=root.parent)
    dev.board = True
    return dev


def _boot_info(dev: FirmwareDevice, start: int = 0) -> dict[str, Any]:
    return dict(dev.wait_event(lambda e: e.get("ev") == "boot", 30, "boot", start)["fw"])


def _alarms(gw: StandinGateway, name: str) -> list[dict[str, Any]]:
    return [a for a in gw.of_kind("alarm", "EV-OTA") if a["a"] == name]


def _upd(gw: StandinGateway, st: str) -> list[dict[str, Any]]:
    with gw._cond:
        return [m for m in gw.upds if m["st"] == st]


def test_device_boots_from_slot_a_and_a_module_missing_there_is_fatal(
    mosquitto: Mosquitto, gateway: StandinGateway, make_device: DeviceFactory, tmp_path: Path
) -> None:
    root = device_root.layout(tmp_path / "root", "1.0.0")
    dev = _board(make_device, mosquitto, root).start()
    info = _boot_info(dev)
    assert info["slot"] == "a" and info["version"] == "1.0.0" and not info["probation"]
    assert info["bc"] == 1 and info["rc"] == "power_on" and info["rb"] == ""
    dev.wait_link()
    dev.press(0)
    gateway.wait(lambda: gateway.of_kind("vote"), what="a vote")
    dev.wait_depth(0)
    assert (root / "outbox.bin.d").is_dir() and (root / "boot.json").exists()
    dev.stop()
    # The source dir is off the path: a module missing from the slot fails, never falls back.
    (root / "slot_a" / "evaluator_app.mpy").unlink()
    dev.board = False
    dev.start(wait=False)
    fatal = dev.wait_event(lambda e: e.get("ev") == "fatal", 30, "fatal")
    assert "evaluator_app" in fatal["err"]
    st = loader.read(str(root))
    assert st["crashes"] == 1 and "evaluator_app" in st["ft"] and st["reset"] == "crash"
    assert "evaluator_app" in (root / "fatal.log").read_text()


def test_staged_slot_runs_on_probation_confirms_on_the_ack_and_stays(
    mosquitto: Mosquitto, gateway: StandinGateway, make_device: DeviceFactory, tmp_path: Path
) -> None:
    root = device_root.layout(tmp_path / "root", "1.0.0")
    dev = _board(make_device, mosquitto, root).start()
    dev.wait_link()
    device_root.install(root, "b", "2.0.0")
    loader.stage(str(root), "b", "2.0.0")
    mark = dev.mark()
    dev.power_cut(restart=True)
    info = _boot_info(dev, mark)
    assert info["slot"] == "b" and info["version"] == "2.0.0" and info["probation"]
    dev.wait_event(lambda e: e.get("ev") == "confirmed", 30, "confirmed", mark)
    assert len(_alarms(gateway, "fw_updated")) == 1
    gateway.wait(lambda: _upd(gateway, "confirmed"), what="upd confirmed")
    assert _upd(gateway, "confirmed")[0]["rel"] == "2.0.0"
    st = loader.read(str(root))
    assert st["active"] == "b" and st["pending"] is None and st["rb"] == ""
    for _ in range(2):
        mark = dev.mark()
        dev.power_cut(restart=True)
        info = _boot_info(dev, mark)
        assert info["slot"] == "b" and not info["probation"]
    assert len(_alarms(gateway, "fw_updated")) == 1  # only on probation


@pytest.mark.parametrize(
    "patch", [device_root.CRASH_AT_IMPORT, device_root.CRASH_IN_RUN], ids=["import", "run"]
)
def test_crashing_update_rolls_back_by_itself_and_loses_no_vote(
    patch: tuple[str, str],
    mosquitto: Mosquitto,
    make_device: DeviceFactory,
    tmp_path: Path,
) -> None:
    gw = StandinGateway(mosquitto.host, mosquitto.port, auto_ack=False)
    try:
        root = device_root.layout(tmp_path / "root", "2.0.0")
        dev = _board(make_device, mosquitto, root).start()
        dev.wait_link()
        for i in range(5):
            dev.press(i % 5)
        gw.wait(lambda: len(gw.of_kind("vote")) == 5, what="five unacked votes")
        assert dev.outbox_depth() == 5
        queued = {(v["b"], v["s"]) for v in gw.of_kind("vote")}
        device_root.install(root, "b", "3.0.0", device_root.bundle(patch))
        loader.stage(str(root), "b", "3.0.0")
        first = len(dev.boots)
        dev.power_cut(restart=False)
        dev.start(wait=False)  # power back: 3 boots of v3 crash, the 4th is v2 again
        dev.wait_event(lambda e: e.get("ev") == "ready", 60, "the boot after the rollback")
        infos = [dict(e["fw"]) for e in dev.events if e.get("ev") == "boot"]
        assert [i["slot"] for i in infos] == ["b", "b", "b", "a"]
        assert infos[3]["rb"].startswith("crash_loop: RuntimeError('boom")
        assert infos[3]["rc"] == "crash" and not infos[3]["probation"]
        dev.wait_boot(first + 1)
        dev.wait_link()
        gw.ack_all("EV-OTA")
        gw.wait(lambda: _alarms(gw, "fw_rolled_back"), what="fw_rolled_back")
        gw.ack_all("EV-OTA")
        dev.wait_depth(0)
        votes = gw.of_kind("vote")
        assert {(v["b"], v["s"]) for v in votes} == queued  # none lost
        seen: set[tuple[str, int]] = set()
        for m in gw.received:  # every copy after a key's first is a flagged resend
            key = (m["b"], m["s"])
            assert key not in seen or m.get("rs"), m
            seen.add(key)
        rolled = gw.wait(lambda: _upd(gw, "rolled_back"), what="upd rolled_back")
        assert rolled[0]["rel"] == "3.0.0" and rolled[0]["fw"] == "2.0.0"
        assert rolled[0]["err"].startswith("crash_loop: RuntimeError")
        st = loader.read(str(root))
        assert st["active"] == "a" and st["pending"] is None and st["rb_from"] == "3.0.0"
        # Reported once: a later boot does not raise the alarm again.
        dev.power_cut(restart=True)
        dev.wait_link()
        dev.press(1)
        gw.wait(lambda: len(gw.of_kind("vote")) == 6, what="a vote after the rollback")
        assert len(_alarms(gw, "fw_rolled_back")) == 1
    finally:
        gw.close()


def test_probation_timeout_rolls_back(
    mosquitto: Mosquitto, make_device: DeviceFactory, tmp_path: Path
) -> None:
    gw = StandinGateway(mosquitto.host, mosquitto.port, auto_ack=False)
    try:
        root = device_root.layout(tmp_path / "root", "1.0.0")
        dev = _board(make_device, mosquitto, root, ota_probation_s=3).start()
        device_root.install(root, "b", "2.0.0")
        loader.stage(str(root), "b")
        mark = dev.mark()
        dev.power_cut(restart=True)
        assert _boot_info(dev, mark)["probation"]
        reset = dev.wait_event(lambda e: e.get("ev") == "reset", 30, "reset", mark)
        assert reset["why"] == "rollback"
        info = _boot_info(dev, dev.events.index(reset))
        assert (
            info["slot"] == "a" and info["rb"] == "probation_timeout" and info["rc"] == "rollback"
        )
        dev.wait_link()
        gw.wait(lambda: _alarms(gw, "fw_rolled_back"), what="fw_rolled_back")
        gw.ack_all("EV-OTA")
        dev.wait_depth(0)
        # The unconfirmed fw_updated of the probation boot is delivered too: nothing lost.
        assert len(_alarms(gw, "fw_updated")) == 1
        assert loader.read(str(root))["active"] == "a"
    finally:
        gw.close()


def test_config_and_saved_cfg_survive_update_and_rollback(
    mosquitto: Mosquitto, gateway: StandinGateway, make_device: DeviceFactory, tmp_path: Path
) -> None:
    root = device_root.layout(tmp_path / "root", "1.0.0")
    dev = _board(make_device, mosquitto, root).start()
    dev.wait_link()
    gateway.send_cfg("EV-OTA", rev=7)
    dev.wait_event(lambda e: e.get("ev") == "cfg" and e.get("rev") == 7, what="cfg 7")
    saved = (root / "outbox.bin.cfg").read_bytes()
    config = json.loads((root / "config.json").read_text())
    device_root.install(root, "b", "2.0.0", device_root.bundle(device_root.CRASH_AT_IMPORT))
    loader.stage(str(root), "b")
    # Clear the retained cfg: only the device's flash can restore it now.
    gateway._client.publish(
        device_topic("H1", "EV-OTA", "cfg"), b"", qos=1, retain=True
    ).wait_for_publish()
    mark = dev.mark()
    dev.power_cut(restart=True)
    assert loader.read(str(root))["active"] == "a"
    ev = dev.wait_event(lambda e: e.get("ev") == "cfg", 10, "cfg from flash", mark)
    assert ev["rev"] == 7
    assert (root / "outbox.bin.cfg").read_bytes() == saved
    assert json.loads((root / "config.json").read_text()) == config
