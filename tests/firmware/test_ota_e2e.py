"""Updates end to end: the real firmware on MicroPython, real Mosquitto, a stand-in gateway that
serves a signed release chunk by chunk (firmware/ota.py; docs/firmware.md, Updates)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.firmware_process import FirmwareDevice
from tests.firmware.conftest import DeviceFactory
from tests.firmware.ota_support import (
    Keys,
    Release,
    boot_json,
    device_root,
    firmware_dir,
    make_keys,
    make_release,
    ota_config,
    slot_files,
)
from tests.firmware.standin_gateway import StandinGateway
from tests.support.brokers import Mosquitto

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(180)]
DEV = "EV-A03"


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return make_keys(tmp_path / "keys")


@pytest.fixture
def gw(mosquitto: Mosquitto) -> StandinGateway:
    g = StandinGateway(mosquitto.host, mosquitto.port)
    yield g
    g.close()


def _device(
    make_device: DeviceFactory, mosquitto: Mosquitto, tmp_path: Path, keys: Keys, **extra: object
) -> tuple[FirmwareDevice, Path]:
    root = device_root(tmp_path / "root", keys)
    conf = ota_config(mosquitto, root, keys, **extra)
    dev = make_device(conf, firmware_dir=firmware_dir(tmp_path))
    return dev, root


def _wait_exit(dev: FirmwareDevice, timeout: float = 60) -> None:
    dev.wait_event(lambda e: e.get("ev") == "exit", timeout, "reset (process exit)")
    assert dev._proc is not None
    assert dev._proc.wait(10) == 3  # hal.reset: the board reboots


def _assert_staged(root: Path, rel: Release) -> None:
    assert boot_json(root)["pending"] == "b"
    assert slot_files(root, "b") == rel.files
    assert (root / "slot_b" / "manifest.json").read_text() == rel.manifest
    assert (root / "slot_b" / "manifest.sig").read_text() == rel.sig
    assert not (root / "ota.part").exists() and not (root / "ota.json").exists()
    assert slot_files(root, "a") == rel.files  # the running slot is untouched


def test_full_download_installs_into_the_inactive_slot_and_resets(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    rel = make_release(keys, "0.2.0")
    gw.releases[rel.version] = rel.payload
    dev, root = _device(make_device, mosquitto, tmp_path, keys)
    dev.start()
    dev.wait_link()
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)
    _wait_exit(dev)
    _assert_staged(root, rel)
    sts = gw.upd_states(rel.version)
    assert sts[0] == "downloading" and sts[-1] == "staged"
    offs = [f["off"] for f in gw.fetches]
    assert offs == list(range(0, len(rel.payload), 1024))  # each chunk asked for once, in order
