"""Issue #15's proof: firmware updates on the real MicroPython interpreter, through real
Mosquitto, the real gateway process (its release store and roll-out engine) and the server.

- v1 -> v2 with 50 votes queued around the update and the broker restarted mid-download: the
  device ends on v2, confirmed, and the server has every vote exactly once;
- a v3 that crashes at boot: the device rolls back to v2 by itself, no vote is lost, and the
  roll-out halts at the canary with `rollout status` saying why;
- a bundle tampered with after its release (one byte) is refused by the device and never booted.

The power cut mid-update (mid-download, mid-unpack, during the switch) is in
tests/firmware/test_ota_e2e.py and tests/firmware/test_slots_power_e2e.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import firmware_bundle as fb
from gateway.ota import signing
from gateway.ota.releases import make_release
from simulator.firmware_process import FirmwareDevice
from tests.firmware import device_root
from tests.firmware.conftest import device_config
from tests.gateway.conftest import HallServer, gateway_config_dict, wait_for, write_toml
from tests.support.brokers import Mosquitto
from tests.support.migrated import MigratedTemplates
from tests.support.ports import wait_port
from tests.support.procs import Proc

pytestmark = [pytest.mark.micropython, pytest.mark.e2e, pytest.mark.timeout(420)]

V1, V2, V3 = "0.1.0", "0.2.0", "0.3.0"
DEVICE = "EV-A01"


@dataclass
class Chain:
    root: Path
    config: Path
    port: int
    pub: str
    key: Path
    pub_path: Path
    server: HallServer
    broker: Mosquitto
    gateway: Proc

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "server.cli", "firmware", *args, "--config", str(self.config)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)

    def release(self, version: str, blob: bytes) -> None:
        make_release(
            self.root / "var/releases", self.pub_path, self.key, version, "unix", payload=blob
        )

    def rollout(self) -> dict[str, Any]:
        out = self.cli("rollout", "status", "--json")
        assert out.returncode == 0, out.stderr
        return dict(json.loads(out.stdout))

    def device_row(self) -> dict[str, Any]:
        st = httpx.get(f"http://127.0.0.1:{self.port}/status", timeout=10).json()
        return next((d for d in st["devices"] if d["device"] == DEVICE), {})

    def votes(self) -> list[dict[str, Any]]:
        return [r for r in self.server.evaluations() if r["key"].startswith(f"{DEVICE}:")]


@pytest.fixture
def chain(
    tmp_path: Path, mosquitto: Mosquitto, migrated_templates: MigratedTemplates
) -> Iterator[Chain]:
    srv = HallServer(tmp_path / "server", migrated_templates).start()
    key, pub = signing.generate_keypair(tmp_path / "keys")
    cfg = gateway_config_dict(
        tmp_path,
        mosquitto.url,
        srv.url,
        # Presses without a ticket count: every vote of the test must reach the score.
        attribution={"count_no_ticket": True},
    )
    cfg["firmware"] = {"releases": "var/releases", "pubkey": "keys/release.pub", "fetch_per_s": 6}
    cfg["rollout"] = {"soak_s": 2, "max_failures": 1, "confirm_timeout_s": 300}
    cfg["hours"] = {"open": ["00:00-24:00"], "days": "all"}
    path = write_toml(cfg, tmp_path / "hall.toml")
    gw = Proc("gateway", [sys.executable, "-m", "gateway", "--config", str(path)], tmp_path)
    gw.start()
    chain = Chain(
        tmp_path,
        path,
        int(cfg["http"]["port"]),
        signing.load_public_hex(pub),
        key,
        pub,
        srv,
        mosquitto,
        gw,
    )
    try:
        wait_port("127.0.0.1", chain.port, timeout=30)
        yield chain
    finally:
        gw.stop()
        srv.stop()


@pytest.fixture
def board(micropython: str, tmp_path: Path) -> Iterator[Callable[..., FirmwareDevice]]:
    made: list[FirmwareDevice] = []

    def make(chain: Chain, version: str, blob: bytes | None = None) -> FirmwareDevice:
        root = device_root.layout(tmp_path / "board", version)
        if blob is not None:
            device_root.install(root, "a", version, blob)
        conf = device_config(
            chain.broker,
            device=DEVICE,
            root=str(root),
            ota_pubkey=chain.pub,
            board="unix",
            ota_max_boots=2,
            ota_probation_s=240,
        )
        dev = FirmwareDevice(micropython, conf, tmp_path / "devices", board=True)
        made.append(dev)
        return dev.start(timeout=30)

    yield make
    for d in made:
        d.kill()


def _boot_json(dev: FirmwareDevice) -> dict[str, Any]:
    return dict(json.loads((Path(dev.config["root"]) / "boot.json").read_text()))


def _press(dev: FirmwareDevice, n: int) -> None:
    for i in range(n):
        dev.press(i % 5)
        time.sleep(0.12)  # debounce (30 ms) and the thanks screen's misuse window do not matter


def _all_once(chain: Chain, n: int) -> list[dict[str, Any]]:
    def ready() -> list[dict[str, Any]]:
        rows = chain.votes()
        return rows if len(rows) >= n else []

    rows = list(wait_for(ready, 120, f"{n} votes of {DEVICE} at the server"))
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys)) == n, keys  # none doubled, none more
    return rows


def test_v1_to_v2_with_50_votes_and_a_broker_restart_mid_download(
    chain: Chain, board: Callable[..., FirmwareDevice]
) -> None:
    chain.release(V2, device_root.bundle())
    dev = board(chain, V1)
    dev.wait_link(timeout=30)
    # 20 votes queued while the broker is down: they wait in the outbox.
    chain.broker.stop()
    dev.wait_link(up=False)
    _press(dev, 20)
    dev.wait_depth(20, timeout=30)
    chain.broker.start()
    dev.wait_link(timeout=60)
    out = chain.cli("rollout", "start", "--release", V2, "--devices", DEVICE)
    assert out.returncode == 0, out.stderr
    wait_for(
        lambda: any(e.get("ev") == "ota" and e.get("st") == "downloading" for e in dev.events),
        60,
        "the download under way",
    )
    # 20 votes during the download, and the broker restarted in its middle.
    _press(dev, 10)
    assert not (Path(dev.config["root"]) / "slot_b" / "manifest.json").exists()
    part = Path(dev.config["root"]) / "ota.part"
    size_before = part.stat().st_size if part.exists() else 0
    chain.broker.stop()
    _press(dev, 10)
    time.sleep(1.5)
    chain.broker.start()
    # The device reboots into v2 on probation, its fw_updated alarm is acked end to end, and it
    # confirms itself: the roll-out completes.
    wait_for(lambda: chain.rollout()["state"] == "done", 240, "the roll-out done")
    bj = _boot_json(dev)
    assert bj["active"] == "b" and bj["pending"] is None, bj
    manifest = (Path(dev.config["root"]) / "slot_b" / "manifest.json").read_text()
    assert size_before < fb.parse_manifest(manifest)["size"]  # restarted mid-download
    wait_for(lambda: chain.device_row().get("fw") == V2, 60, "the gateway sees v2")
    assert chain.device_row().get("pr") in (False, 0, None)
    dev.wait_link(timeout=60)
    # 10 votes after the update, on v2.
    _press(dev, 10)
    rows = _all_once(chain, 50)
    assert all(r["counted"] == 1 for r in rows)
    dev.wait_depth(0, timeout=90)
    assert len(dev.boots) >= 2  # it did reboot into the new slot


def test_a_v3_that_crashes_at_boot_rolls_back_to_v2_and_halts_the_rollout(
    chain: Chain, board: Callable[..., FirmwareDevice]
) -> None:
    chain.release(V3, device_root.bundle(device_root.CRASH_AT_IMPORT))
    dev = board(chain, V2, device_root.bundle())
    dev.wait_link(timeout=30)
    _press(dev, 10)
    out = chain.cli("rollout", "start", "--release", V3, "--devices", f"{DEVICE},EV-A02")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: chain.rollout()["state"] == "halted", 300, "the roll-out halted")
    status = chain.cli("rollout", "status")
    assert status.returncode == 0
    head = status.stdout.splitlines()[0]
    assert head.startswith(f"roll-out 1 of {V3}: halted: {DEVICE} rolled back (crash_loop"), head
    assert "boom at import" in status.stdout
    # Only the canary was ever offered v3.
    states = {d["device"]: d["state"] for d in chain.rollout()["devices"]}
    assert states["EV-A02"] == "waiting", states
    bj = _boot_json(dev)
    assert bj["active"] == "a" and bj["pending"] is None and bj["rb"].startswith("crash_loop")
    dev.wait_link(timeout=60)
    wait_for(lambda: chain.device_row().get("fw") == V2, 60, "the gateway sees v2 again")
    _press(dev, 5)
    _all_once(chain, 15)
    dev.wait_depth(0, timeout=90)


def test_a_bundle_tampered_with_after_its_release_is_refused_and_never_booted(
    chain: Chain, board: Callable[..., FirmwareDevice]
) -> None:
    chain.release(V2, device_root.bundle())
    dev = board(chain, V1)
    dev.wait_link(timeout=30)
    payload = chain.root / "var/releases" / V2 / "payload.bin"
    out = chain.cli("rollout", "start", "--release", V2, "--devices", DEVICE)
    assert out.returncode == 0, out.stderr
    # One byte changed in the store after the roll-out checked it: what the gateway now serves
    # no longer matches the signed manifest.
    data = bytearray(payload.read_bytes())
    data[len(data) // 2] ^= 0x01
    payload.write_bytes(bytes(data))
    boots = len(dev.boots)
    wait_for(lambda: chain.rollout()["state"] == "halted", 240, "the roll-out halted")
    # The gateway checks what it serves against the manifest too (defence in depth): whichever
    # side sees it first, the roll-out halts. The device's own refusals (sha256, signature) with
    # a gateway that serves anything: tests/firmware/test_ota_e2e.py.
    head = chain.cli("rollout", "status").stdout.splitlines()[0]
    assert head in (
        f"roll-out 1 of {V2}: halted: release {V2}: payload.bin does not match its manifest",
    ) or head.startswith(f"roll-out 1 of {V2}: halted: {DEVICE} download failed ("), head
    root = Path(dev.config["root"])
    bj = _boot_json(dev)
    assert bj["active"] == "a" and bj["pending"] is None
    assert not (root / "slot_b" / "manifest.json").exists()
    assert not (root / "ota.part").exists()
    assert len(dev.boots) == boots  # never rebooted into anything
    _press(dev, 3)
    _all_once(chain, 3)


def test_a_release_with_a_wrong_signature_is_never_offered(
    chain: Chain, board: Callable[..., FirmwareDevice], tmp_path: Path
) -> None:
    other_key, _ = signing.generate_keypair(tmp_path / "other-keys")
    blob = device_root.bundle()
    chain.release(V2, blob)
    sig = chain.root / "var/releases" / V2 / "manifest.sig"
    mf = (chain.root / "var/releases" / V2 / "manifest.json").read_text()
    sig.write_text(signing.sign(signing.load_private(other_key), mf) + "\n")
    dev = board(chain, V1)
    dev.wait_link(timeout=30)
    out = chain.cli("rollout", "start", "--release", V2, "--devices", DEVICE)
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"hallrate firmware rollout start: release {V2}: signature does not match [firmware].pubkey"
    )
    time.sleep(2)
    assert not any(e.get("ev") == "ota" for e in dev.events)
    assert _boot_json(dev)["active"] == "a"
