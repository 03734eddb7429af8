"""Firmware test fixtures: the real firmware on the micropython unix port, a stand-in gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.firmware_process import FirmwareDevice
from tests.firmware.standin_gateway import StandinGateway
from tests.support.brokers import Broker

DeviceFactory = Callable[..., FirmwareDevice]


def device_config(
    broker: Broker, device: str = "EV-A03", kind: str = "evaluator", **extra: Any
) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "device": device,
        "hall": "H1",
        "kind": kind,
        "broker_host": broker.host,
        "broker_port": broker.port,
        "heartbeat": 2,
        "keepalive": 10,
        "resend_ms": 1500,
        "backoff_base_ms": 100,
        "backoff_max_ms": 1000,
    }
    conf.update(extra)
    return conf


@pytest.fixture
def make_device(micropython: str, tmp_path: Path) -> Iterator[DeviceFactory]:
    made: list[FirmwareDevice] = []

    def make(
        config: dict[str, Any], workdir: Path | None = None, firmware_dir: Path | None = None
    ) -> FirmwareDevice:
        dev = FirmwareDevice(micropython, config, workdir or tmp_path / "devices", firmware_dir)
        made.append(dev)
        return dev

    yield make
    for d in made:
        d.kill()


@pytest.fixture
def gateway(broker: Broker) -> Iterator[StandinGateway]:
    gw = StandinGateway(broker.host, broker.port)
    yield gw
    gw.close()
