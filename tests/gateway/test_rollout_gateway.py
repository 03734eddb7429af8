"""Roll-outs end to end: the real gateway process, real Mosquitto, device models that update
the way the firmware does (tests/gateway/ota_device.py), and the `hallrate firmware` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware import wire, wire_ota
from gateway import firmware_bundle as fb
from gateway.ota import signing
from gateway.ota.releases import make_release
from tests.gateway.conftest import HALL, gateway_config_dict, wait_for, write_toml
from tests.gateway.ota_device import CRASH, OtaDevice
from tests.support.brokers import Mosquitto
from tests.support.ports import free_port, wait_port
from tests.support.procs import Proc

OLD, NEW = "0.2.0", "0.3.0"
KINDS = {"EV-A01": "evaluator", "EV-A02": "evaluator", "EV-A03": "evaluator", "BB-01": "ballot_box"}


@dataclass
class Hall:
    root: Path
    config: Path
    port: int
    pub: str
    key: Path
    gateway: Proc

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`hallrate firmware ...` as an operator runs it."""
        argv = [sys.executable, "-m", "server.cli", "firmware", *args, "--config", str(self.config)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)

    def status(self) -> dict[str, Any]:
        r = httpx.get(f"http://127.0.0.1:{self.port}/status", timeout=10)
        return dict(r.json()["rollout"])

    def rollout(self) -> dict[str, Any]:
        out = self.cli("rollout", "status", "--json")
        assert out.returncode == 0, out.stderr
        return dict(json.loads(out.stdout))

    def device_state(self, device: str) -> str:
        return next(d["state"] for d in self.rollout()["devices"] if d["device"] == device)


def start_hall(tmp_path: Path, mosquitto: Mosquitto, fetch_per_s: float, size: int) -> Hall:
    key, pub = signing.generate_keypair(tmp_path / "keys")
    cfg = gateway_config_dict(tmp_path, mosquitto.url, f"http://127.0.0.1:{free_port()}")
    cfg["firmware"] = {
        "releases": "var/releases",
        "pubkey": "keys/release.pub",
        "fetch_per_s": fetch_per_s,
    }
    cfg["rollout"] = {"waves": [50, 100], "soak_s": 1, "confirm_timeout_s": 120}
    cfg["hours"] = {"open": ["00:00-24:00"], "days": "all"}
    path = write_toml(cfg, tmp_path / "hall.toml")
    payload = fb.pack({"app.mpy": os.urandom(size)})
    make_release(tmp_path / "var/releases", pub, key, NEW, target="unix", payload=payload)
    argv = [sys.executable, "-m", "gateway", "--config", str(path)]
    proc = Proc("gateway", argv, tmp_path).start()
    wait_port("127.0.0.1", cfg["http"]["port"], timeout=30)
    pub_hex = signing.load_public_hex(pub)
    return Hall(tmp_path, path, int(cfg["http"]["port"]), pub_hex, key, proc)


@pytest.fixture
def devices() -> Iterator[dict[str, OtaDevice]]:
    made: dict[str, OtaDevice] = {}
    yield made
    for d in made.values():
        d.close()


def fleet(
    hall: Hall, mosquitto: Mosquitto, made: dict[str, OtaDevice], crash: str = ""
) -> dict[str, OtaDevice]:
    for d, kind in KINDS.items():
        made[d] = OtaDevice(
            mosquitto.host,
            mosquitto.port,
            HALL,
            d,
            kind=kind,
            fw=OLD,
            pubkey=hall.pub,
            crash_on=NEW if d == crash else None,
        )
    for dev in made.values():
        wait_for(dev.connected.is_set, 20, f"{dev.device} connected")
    wait_for(lambda: all(d["online"] for d in online_rows(hall)), 30, "devices seen online")
    return made


def online_rows(hall: Hall) -> list[dict[str, Any]]:
    r = httpx.get(f"http://127.0.0.1:{hall.port}/status", timeout=10).json()
    rows = [d for d in r["devices"] if d["device"] in KINDS]
    return rows if len(rows) == len(KINDS) else [{"online": False}]


@pytest.mark.timeout(180)
def test_a_clean_rollout_reaches_every_device(
    tmp_path: Path, mosquitto: Mosquitto, devices: dict[str, OtaDevice]
) -> None:
    hall = start_hall(tmp_path, mosquitto, fetch_per_s=200, size=20_000)
    try:
        fleet(hall, mosquitto, devices)
        out = hall.cli("rollout", "start", "--release", NEW)
        assert out.returncode == 0, out.stderr
        assert "canary: BB-01, EV-A01" in out.stdout and "wave 2: EV-A03" in out.stdout
        wait_for(lambda: hall.rollout()["state"] == "done", 90, "the roll-out done")
        assert {d: dev.fw for d, dev in devices.items()} == dict.fromkeys(KINDS, NEW)
        st = hall.status()
        assert st["state"] == "done" and st["failures"] == 0
        assert {d["state"] for d in st["devices"]} == {"confirmed"}
        assert st["fetch"]["served"] >= 4 * 20 and st["fetch"]["refused"] == 0
        # The waves went in order: a later wave's first fetch after the earlier wave confirmed.
        assert devices["EV-A03"].fetches and devices["EV-A02"].updates[-1]["st"] == "confirmed"
        text = hall.cli("rollout", "status")
        assert text.stdout.startswith(f"roll-out 1 of {NEW}: done: 4 of 4 devices confirmed")
    finally:
        hall.gateway.stop()


@pytest.mark.timeout(180)
def test_a_canary_that_rolls_back_halts_the_rollout_and_status_says_why(
    tmp_path: Path, mosquitto: Mosquitto, devices: dict[str, OtaDevice]
) -> None:
    hall = start_hall(tmp_path, mosquitto, fetch_per_s=200, size=8_000)
    try:
        fleet(hall, mosquitto, devices, crash="EV-A01")
        assert hall.cli("rollout", "start", "--release", NEW).returncode == 0
        wait_for(lambda: hall.rollout()["state"] == "halted", 60, "the roll-out halted")
        out = hall.cli("rollout", "status")
        assert out.returncode == 0
        assert out.stdout.splitlines()[0] == (
            f"roll-out 1 of {NEW}: halted: EV-A01 rolled back ({CRASH})"
        )
        assert devices["EV-A01"].fw == OLD and devices["EV-A01"].rb == CRASH
        assert devices["EV-A02"].offers == [] and devices["EV-A03"].offers == []
        assert hall.status()["reason"] == f"EV-A01 rolled back ({CRASH})"
        # A fetch for a release not offered to the device: logged, counted, nothing sent.
        before = hall.status()["fetch"]["refused"]
        bad = wire_ota.fetch("EV-A02", devices["EV-A02"].boot, NEW, 0, 1024)
        devices["EV-A02"].client.publish(devices["EV-A02"].topic("fetch"), wire.encode(bad), 1)
        wait_for(lambda: hall.status()["fetch"]["refused"] == before + 1, 20, "fetch refused")
        assert hall.gateway.alive()
        # Nothing more can be started over a halted roll-out's release by mistake: a new start
        # is allowed (the halted one is over), pause/resume of the halted one are not.
        out = hall.cli("rollout", "resume")
        assert out.returncode == 2
        assert out.stderr.strip() == (
            f"hallrate firmware rollout resume: roll-out 1 of {NEW} is halted: cannot resume"
        )
    finally:
        hall.gateway.stop()


@pytest.mark.timeout(240)
def test_pause_resume_and_abort(
    tmp_path: Path, mosquitto: Mosquitto, devices: dict[str, OtaDevice]
) -> None:
    hall = start_hall(tmp_path, mosquitto, fetch_per_s=4, size=60_000)
    try:
        fleet(hall, mosquitto, devices)
        ev = devices["EV-A01"]
        assert hall.cli("rollout", "start", "--release", NEW).returncode == 0
        wait_for(lambda: len(ev.part) >= 4096, 60, "EV-A01 downloading")
        out = hall.cli("rollout", "pause")
        assert out.returncode == 0 and f"roll-out 1 of {NEW}: paused" in out.stdout
        wait_for(lambda: any(o.get("stop") for o in ev.offers), 20, "a stop sent to EV-A01")
        wait_for(lambda: hall.device_state("EV-A01") == "waiting", 20, "EV-A01 waiting")
        kept = len(ev.part)
        assert kept >= 4096 and ev.offer is None
        assert hall.cli("rollout", "pause").returncode == 2  # paused already
        n_offers = len(ev.offers)
        assert hall.cli("rollout", "resume").returncode == 0
        wait_for(lambda: len(ev.offers) > n_offers, 20, "EV-A01 offered again")
        wait_for(lambda: (kept, 1024) in ev.fetches[-3:], 20, "the download resumed")
        assert hall.device_state("EV-A01") == "updating"
        out = hall.cli("rollout", "abort")
        assert out.returncode == 0
        wait_for(lambda: hall.device_state("EV-A01") == "stopped", 20, "EV-A01 stopped")
        assert ev.offers[-1].get("stop") and ev.fw == OLD
        st = hall.rollout()
        assert st["state"] == "aborted" and st["reason"] == "aborted by command"
        assert devices["EV-A02"].offers == []
        out = hall.cli("rollout", "resume")
        assert out.returncode == 2 and "is aborted: cannot resume" in out.stderr
        # After an abort a new roll-out may start.
        assert hall.cli("rollout", "start", "--release", NEW).returncode == 0
        assert hall.rollout()["id"] == 2
    finally:
        hall.gateway.stop()
