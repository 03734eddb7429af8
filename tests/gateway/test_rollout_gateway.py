"""Roll-outs end to end: the real gateway process, real Mosquitto, device models that update
the way the firmware does (tests/gateway/ota_device.py), and the `hallrate firmware` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
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
    broker: Mosquitto
    gateway: Proc | None = None

    def start(self) -> Hall:
        argv = [sys.executable, "-m", "gateway", "--config", str(self.config)]
        self.gateway = Proc("gateway", argv, self.root).start()
        wait_port("127.0.0.1", self.port, timeout=30)
        return self

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None

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


def start_hall(
    tmp_path: Path,
    mosquitto: Mosquitto,
    fetch_per_s: float,
    size: int,
    **overrides: Any,
) -> Hall:
    key, pub = signing.generate_keypair(tmp_path / "keys")
    cfg = gateway_config_dict(
        tmp_path, mosquitto.url, f"http://127.0.0.1:{free_port()}", **overrides
    )
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
    hall = Hall(
        tmp_path, path, int(cfg["http"]["port"]), signing.load_public_hex(pub), key, mosquitto
    )
    return hall.start()


@pytest.fixture
def open_hall(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[Callable[..., Hall]]:
    """A started hall (gateway process, release 0.3.0 in its store); stopped after the test."""
    made: list[Hall] = []

    def start(fetch_per_s: float, size: int, **overrides: Any) -> Hall:
        made.append(start_hall(tmp_path, mosquitto, fetch_per_s, size, **overrides))
        return made[-1]

    yield start
    for h in made:
        h.stop()


@pytest.fixture
def devices() -> Iterator[dict[str, OtaDevice]]:
    made: dict[str, OtaDevice] = {}
    yield made
    for d in made.values():
        d.close()


def fleet(hall: Hall, made: dict[str, OtaDevice], crash: str = "") -> dict[str, OtaDevice]:
    for d, kind in KINDS.items():
        made[d] = OtaDevice(
            hall.broker.host,
            hall.broker.port,
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
    open_hall: Callable[..., Hall], devices: dict[str, OtaDevice]
) -> None:
    hall = open_hall(fetch_per_s=200, size=20_000)
    fleet(hall, devices)
    out = hall.cli("rollout", "start", "--release", NEW)
    assert out.returncode == 0, out.stderr
    assert "canary: BB-01, EV-A01" in out.stdout and "wave 2: EV-A03" in out.stdout
    wait_for(lambda: hall.rollout()["state"] == "done", 90, "the roll-out done")
    assert {d: dev.fw for d, dev in devices.items()} == dict.fromkeys(KINDS, NEW)
    st = hall.status()
    assert st["state"] == "done" and st["failures"] == 0
    assert {d["state"] for d in st["devices"]} == {"confirmed"}
    assert st["fetch"]["served"] >= 4 * 20 and st["fetch"]["refused"] == 0
    # The waves went in order: a wave's downloads began after the earlier waves confirmed.
    t = {d: (dev.started_at, dev.done_at) for d, dev in devices.items()}
    assert all(a is not None and b is not None for a, b in t.values())
    canaries_done = max(t["EV-A01"][1] or 0, t["BB-01"][1] or 0)
    assert (t["EV-A02"][0] or 0) >= canaries_done
    assert (t["EV-A03"][0] or 0) >= (t["EV-A02"][1] or 0)
    text = hall.cli("rollout", "status")
    assert text.stdout.startswith(f"roll-out 1 of {NEW}: done: 4 of 4 devices confirmed")


@pytest.mark.timeout(180)
def test_a_canary_that_rolls_back_halts_the_rollout_and_status_says_why(
    open_hall: Callable[..., Hall], devices: dict[str, OtaDevice]
) -> None:
    hall = open_hall(fetch_per_s=200, size=8_000)
    fleet(hall, devices, crash="EV-A01")
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
    gw = subprocess.run(
        [sys.executable, "-m", "server.cli", "gateway", "status", "--config", str(hall.config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f"roll-out 1 of {NEW}: halted: EV-A01 rolled back ({CRASH})" in gw.stdout
    # A fetch for a release not offered to the device: logged, counted, nothing sent.
    before = hall.status()["fetch"]["refused"]
    bad = wire_ota.fetch("EV-A02", devices["EV-A02"].boot, NEW, 0, 1024)
    devices["EV-A02"].client.publish(devices["EV-A02"].topic("fetch"), wire.encode(bad), 1)
    wait_for(lambda: hall.status()["fetch"]["refused"] == before + 1, 20, "fetch refused")
    assert hall.gateway is not None and hall.gateway.alive()
    # Nothing more can be started over a halted roll-out's release by mistake: a new start
    # is allowed (the halted one is over), pause/resume of the halted one are not.
    out = hall.cli("rollout", "resume")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"hallrate firmware rollout resume: roll-out 1 of {NEW} is halted: cannot resume"
    )


@pytest.mark.timeout(240)
def test_pause_resume_and_abort(
    open_hall: Callable[..., Hall], devices: dict[str, OtaDevice]
) -> None:
    hall = open_hall(fetch_per_s=4, size=60_000)
    fleet(hall, devices)
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
    n_offers, n_fetches = len(ev.offers), len(ev.fetches)
    assert hall.cli("rollout", "resume").returncode == 0
    wait_for(lambda: len(ev.offers) > n_offers, 20, "EV-A01 offered again")
    wait_for(lambda: len(ev.fetches) > n_fetches, 20, "the download resumed")
    # The first fetch after the resume picks up where the paused download stopped. (The
    # bucket refilled during the pause, so a burst of chunks may follow at once: look at
    # the first fetch, not the latest ones.)
    assert ev.fetches[n_fetches] == (kept, 1024)
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


@pytest.mark.timeout(240)
def test_one_of_a_window_group_at_a_time_in_opening_hours_and_a_gateway_restart_carries_on(
    open_hall: Callable[..., Hall], devices: dict[str, OtaDevice]
) -> None:
    bank = {d: {"kind": "evaluator", "window": f"A0{d[-1]}", "group": "bank"} for d in KINDS}
    bank["BB-01"] = {"kind": "ballot_box"}
    hall = open_hall(fetch_per_s=5, size=30_000, devices=bank)
    fleet(hall, devices)
    out = hall.cli("rollout", "start", "--release", NEW, "--waves", "100")
    assert out.returncode == 0 and "wave 1: EV-A02, EV-A03" in out.stdout
    a2, a3 = devices["EV-A02"], devices["EV-A03"]
    wait_for(lambda: len(a2.part) >= 4096 or len(a3.part) >= 4096, 90, "wave 1 downloading")
    first, second = (a2, a3) if a2.started_at is not None else (a3, a2)
    assert second.started_at is None and second.offers == []  # the group is busy
    assert hall.gateway is not None
    hall.gateway.kill()  # SIGKILL mid-download
    hall.gateway = None
    hall.start()
    wait_for(lambda: hall.rollout()["state"] == "done", 120, "the roll-out done")
    assert {d: dev.fw for d, dev in devices.items()} == dict.fromkeys(KINDS, NEW)
    # Never two of the bank updating at once: each began after the previous one confirmed.
    spans = sorted((d.started_at or 0, d.done_at or 0) for d in (devices["EV-A01"], a2, a3))
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1)), spans
    assert first.done_at is not None and second.started_at is not None
    assert first.done_at <= second.started_at
