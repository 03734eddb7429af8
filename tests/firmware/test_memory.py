"""Heap on the unix port (gc.mem_alloc after gc.collect): start-up and 100 presses offline."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.firmware_tool import unix_mpy_filesystem, unix_romfs
from simulator.firmware_process import FirmwareDevice
from tests.firmware.conftest import DeviceFactory, device_config
from tests.support.brokers import Mosquitto

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(180)]
GOAL = 60 * 1024


def _heap(dev: FirmwareDevice) -> int:
    st = dev.status(collect=True)
    return int(st["alloc"]) - int(st["rom"])


@pytest.mark.parametrize("load", ["romfs", "filesystem", "filesystem-mpy"])
def test_heap_at_startup_and_during_an_offline_burst(
    load: str, mosquitto: Mosquitto, make_device: DeviceFactory, tmp_path: Path
) -> None:
    conf = device_config(mosquitto, device="EV-MEM")
    fw_dir = None
    if load == "romfs":
        conf["romfs"] = str(unix_romfs(tmp_path / "fw.romfs", tmp_path))
    elif load == "filesystem-mpy":
        fw_dir = unix_mpy_filesystem(tmp_path / "fw")
    dev = make_device(conf, firmware_dir=fw_dir).start()
    dev.wait_link()
    startup = _heap(dev)
    mosquitto.stop()
    dev.wait_link(up=False)
    peak = 0
    for i in range(100):
        dev.press(i % 5, hold_ms=80)
        time.sleep(0.05)
        if i % 25 == 24:
            peak = max(peak, _heap(dev))
    dev.wait_depth(100, timeout=60)
    peak = max(peak, _heap(dev))
    print(f"heap {load}: start-up {startup} B, burst peak {peak} B")
    assert startup < GOAL and peak < GOAL  # every load (docs/benchmarks.md, Firmware)
    assert peak - startup < 4 * 1024  # the outbox index does not grow with the backlog
