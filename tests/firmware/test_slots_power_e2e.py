"""Power cuts (SIGKILL) during boot.json writes and a staged switch, and the outbox format
across firmware that write different formats, on the real interpreter against real Mosquitto."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware import loader, outbox, wire
from simulator.firmware_process import FirmwareDevice
from tests.firmware import device_root
from tests.firmware.conftest import DeviceFactory, device_config
from tests.firmware.standin_gateway import StandinGateway
from tests.support.brokers import Mosquitto

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(300)]


@pytest.fixture
def gw(mosquitto: Mosquitto) -> Iterator[StandinGateway]:
    g = StandinGateway(mosquitto.host, mosquitto.port, auto_ack=False)
    yield g
    g.close()


def _board(make_device: DeviceFactory, mosquitto: Mosquitto, root: Path, **kw: object):
    dev = make_device(
        device_config(mosquitto, device="EV-PWR", root=str(root), **kw), workdir=root.parent
    )
    dev.board = True
    return dev


def _cut_during_boots(dev: FirmwareDevice, root: Path, rounds: int) -> int:
    """Start and SIGKILL the device at growing delays, so cuts land before, during and after
    the boot stage's writes; boot.json must be whole after every cut. Returns the cuts that
    came after the loader had written boot.json."""
    after = 0
    for i in range(rounds):
        dev.start(wait=False)  # events start afresh
        time.sleep(0.004 * i)
        dev.kill()
        if any(e.get("ev") == "boot" for e in dev.events):
            after += 1
        text = (root / "boot.json").read_text() if (root / "boot.json").exists() else "{}"
        json.loads(text)  # never torn: written to boot.json.new, then renamed
    return after


def test_power_cuts_during_boot_and_a_staged_switch_lose_nothing(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path
) -> None:
    root = device_root.layout(tmp_path / "root", "1.0.0")
    dev = _board(make_device, mosquitto, root, ota_max_boots=200).start()
    dev.wait_link()
    for i in range(4):
        dev.press(i)
    gw.wait(lambda: len(gw.of_kind("vote")) == 4, what="four unacked votes")
    queued = {(v["b"], v["s"]) for v in gw.of_kind("vote")}
    dev.kill()
    assert _cut_during_boots(dev, root, 40) > 0  # some cuts hit a boot in progress
    st = loader.read(str(root))
    assert st["active"] == "a" and st["boots"] >= 1
    device_root.install(root, "b", "2.0.0")
    loader.stage(str(root), "b", "2.0.0")
    _cut_during_boots(dev, root, 40)
    assert loader.read(str(root))["pending"] == "b"  # still staged: no boot could confirm it
    dev.start()
    info = dev.wait_event(lambda e: e.get("ev") == "boot", 10, "boot")["fw"]
    assert info["slot"] == "b" and info["probation"]
    dev.wait_link()
    gw.auto_ack = True
    gw.ack_all("EV-PWR")
    dev.wait_event(lambda e: e.get("ev") == "confirmed", 30, "confirmed")
    dev.wait_depth(0)
    assert {(v["b"], v["s"]) for v in gw.of_kind("vote")} == queued
    assert len([a for a in gw.of_kind("alarm") if a["a"] == "fw_updated"]) == 1
    assert loader.read(str(root))["active"] == "b"


def _newer_outbox(path: Path, fmt: int, boot: str, n: int) -> bytes:
    data = outbox.encode_record(0x46, json.dumps({"f": fmt}).encode())
    for s in range(1, n + 1):
        vote = wire.vote("EV-PWR", boot, s, wire.LEVELS[s % 5], None, 1000 + s)
        data += outbox.encode_record(0x45, wire.encode(vote))
    path.write_bytes(data)
    return data


def test_newer_outbox_is_set_aside_then_merged_by_a_firmware_that_reads_it(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path
) -> None:
    root = device_root.layout(tmp_path / "root", "1.0.0")
    before = _newer_outbox(root / "outbox.bin", 4, "newer001", 3)
    dev = _board(make_device, mosquitto, root).start()
    dev.wait_link()
    gw.wait(lambda: gw.of_kind("alarm"), what="outbox_set_aside")
    assert [a["a"] for a in gw.of_kind("alarm")] == ["outbox_set_aside"]
    assert (root / "outbox.bin.f4").read_bytes() == before  # intact, not read
    assert gw.of_kind("vote") == []
    dev.press(0)
    gw.wait(lambda: gw.of_kind("vote"), what="a vote of the fresh outbox")
    # A firmware that knows format 4 merges the set-aside file back and delivers its votes.
    device_root.install(root, "b", "2.0.0", device_root.bundle(outbox_format=4))
    loader.stage(str(root), "b")
    dev.power_cut(restart=True)
    dev.wait_link()
    gw.wait(lambda: len(gw.of_kind("vote")) == 4, what="merged votes")
    assert {v["b"] for v in gw.of_kind("vote")} >= {"newer001"}
    assert not (root / "outbox.bin.f4").exists()
    gw.ack_all("EV-PWR")
    gw.wait(lambda: len(gw.of_kind("alarm")) == 2, what="fw_updated")
    gw.ack_all("EV-PWR")
    dev.wait_depth(0)
    assert sorted(v["s"] for v in gw.of_kind("vote") if v["b"] == "newer001") == [1, 2, 3]


def test_format_1_outbox_of_an_older_firmware_is_delivered(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path
) -> None:
    root = device_root.layout(tmp_path / "root", "2.0.0")
    data = b""
    for s in (1, 2):  # written by a firmware from before format records: no header
        vote = wire.vote("EV-PWR", "older001", s, wire.LEVELS[s], None, 1000 + s)
        data += outbox.encode_record(0x45, wire.encode(vote))
    (root / "outbox.bin").write_bytes(data)
    dev = _board(make_device, mosquitto, root).start()
    assert dev.wait_event(lambda e: e.get("ev") == "ready")["depth"] == 2
    dev.wait_link()
    gw.wait(lambda: len(gw.of_kind("vote")) == 2, what="the older firmware's votes")
    assert sorted(v["s"] for v in gw.of_kind("vote") if v["b"] == "older001") == [1, 2]
    assert gw.of_kind("alarm") == []  # read, not set aside
    gw.ack_all("EV-PWR")
    dev.wait_depth(0)
