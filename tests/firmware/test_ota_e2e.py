"""Updates end to end: the real firmware on MicroPython, real Mosquitto, a stand-in gateway that
serves a signed release chunk by chunk (firmware/ota.py; docs/firmware.md, Updates)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.firmware_process import FIRMWARE_DIR, FirmwareDevice
from tests.firmware.conftest import DeviceFactory
from tests.firmware.fakes import esp32 as fake_esp32
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
def gw(mosquitto: Mosquitto) -> Iterator[StandinGateway]:
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


def _wait_upd(gw: StandinGateway, dev: FirmwareDevice, st: str, timeout: float = 60) -> None:
    try:
        gw.wait(lambda: st in gw.upd_states(), timeout, f"upd {st}")
    except TimeoutError as e:
        raise AssertionError(f"{e}; upds {gw.upd_states()}\n{dev.log()}") from None


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
    t0 = time.monotonic()
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)
    _wait_exit(dev)
    print(f"offer to reset, {len(rel.payload)} B bundle: {time.monotonic() - t0:.2f} s")
    _assert_staged(root, rel)
    sts = gw.upd_states(rel.version)
    assert sts[0] == "downloading" and sts[-1] == "staged"
    offs = [f["off"] for f in gw.fetches]
    assert offs == list(range(0, len(rel.payload), 1024))  # each chunk asked for once, in order


def _held_at(gw: StandinGateway, off: int, dev: FirmwareDevice | None = None) -> None:
    """Serve up to ``off``, then wait for the device to ask for ``off`` (held: no answer)."""
    try:
        gw.wait(lambda: any(f["off"] >= off for f in gw.fetches), 30, f"a fetch from {off}")
    except TimeoutError as e:
        raise AssertionError(f"{e}; upds {gw.upds}\n{dev.log() if dev else ''}") from None


def test_broker_restart_mid_download_resumes_from_the_file(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    rel = make_release(keys, "0.2.0")
    gw.releases[rel.version] = rel.payload
    gw.hold_from = 16 * 1024
    dev, root = _device(make_device, mosquitto, tmp_path, keys)
    dev.start()
    dev.wait_link()
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)
    _held_at(gw, 16 * 1024)
    assert (root / "ota.part").stat().st_size == 16 * 1024
    assert json.loads((root / "ota.json").read_text())["rel"] == "0.2.0"
    mosquitto.stop()
    dev.wait_link(up=False)
    n = len(gw.fetches)
    gw.hold_from = None
    mosquitto.start()
    _wait_exit(dev)
    _assert_staged(root, rel)
    after = [f["off"] for f in gw.fetches[n:]]
    assert after[0] == 16 * 1024  # asked again from where the file ended, not from 0
    assert after == list(range(16 * 1024, len(rel.payload), 1024))


def test_tampered_bundle_fails_and_is_never_staged(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    rel = make_release(keys, "0.2.0")
    bad = bytearray(rel.payload)
    bad[len(bad) // 2] ^= 0x01  # one byte changed on the way
    gw.releases[rel.version] = bytes(bad)
    dev, root = _device(make_device, mosquitto, tmp_path, keys)
    dev.start()
    dev.wait_link()
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)
    _wait_upd(gw, dev, "failed")
    failed = next(u for u in gw.upds if u["st"] == "failed")
    assert failed["err"] == "sha256 mismatch" and failed["fw"] == "0.1.0"
    assert not (root / "ota.part").exists() and not (root / "ota.json").exists()
    assert not (root / "slot_b").exists()
    assert boot_json(root).get("pending") is None
    assert dev.alive() and dev.status()["link"]  # still running the old version


@pytest.mark.parametrize(
    ("case", "err"),
    [
        ("signature", "bad signature"),
        ("other_key", "bad signature"),
        ("kind", "kind evaluator not in kinds"),
        ("board", "board unix not in boards"),
        ("min", "version 0.1.0 below min 0.1.5"),
        ("max", "version 0.1.0 above max 0.0.9"),
        ("image", "type image needs ota_mode image"),
        ("rel", "manifest version is not rel 0.3.0"),
        ("no_key", "no ota_pubkey: updates refused"),
    ],
)
def test_offers_refused_download_nothing(
    case: str,
    err: str,
    mosquitto: Mosquitto,
    gw: StandinGateway,
    make_device: DeviceFactory,
    tmp_path: Path,
    keys: Keys,
) -> None:
    kw: dict[str, object] = {
        "kind": {"kinds": ("ballot_box",)},
        "board": {"boards": ("esp32", "esp32s3")},
        "min": {"min_version": "0.1.5"},
        "max": {"max_version": "0.0.9"},
        "image": {"type_": "image"},
    }.get(case, {})
    rel = make_release(keys, "0.2.0", **kw)  # type: ignore[arg-type]
    sig = rel.sig
    if case == "signature":
        sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    elif case == "other_key":
        sig = make_release(make_keys(tmp_path / "other"), "0.2.0").sig
    gw.releases[rel.version] = rel.payload
    gw.releases["0.3.0"] = rel.payload
    dev, root = _device(make_device, mosquitto, tmp_path, keys)
    if case == "no_key":
        dev.config.pop("ota_pubkey")
    dev.start()
    dev.wait_link()
    gw.offer(DEV, "0.3.0" if case == "rel" else rel.version, rel.manifest, sig)
    gw.wait(lambda: gw.upds, 30, "an upd")
    assert [(u["st"], u.get("err")) for u in gw.upds] == [("refused", err)]
    time.sleep(0.5)  # nothing further may come: no fetch, no file
    assert gw.fetches == []
    assert not (root / "ota.part").exists() and not (root / "ota.json").exists()
    assert not (root / "slot_b").exists()
    st = dev.status(collect=True)
    assert st["link"]


def test_offer_of_the_running_version_is_answered_with_its_state(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    rel = make_release(keys, "0.1.0")
    dev, _ = _device(make_device, mosquitto, tmp_path, keys)
    dev.start()
    dev.wait_link()
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)
    gw.wait(lambda: gw.upds, 30, "an upd")
    assert [u["st"] for u in gw.upds] == ["confirmed"]
    assert gw.fetches == []


def test_power_cut_mid_download_old_slot_intact_download_resumes(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    rel = make_release(keys, "0.2.0")
    gw.releases[rel.version] = rel.payload
    gw.hold_from = 10 * 1024
    dev, root = _device(make_device, mosquitto, tmp_path, keys)
    dev.start()
    dev.wait_link()
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)
    _held_at(gw, 10 * 1024)
    dev.kill()  # SIGKILL: a power cut
    assert boot_json(root).get("pending") is None  # nothing staged: slot a boots as before
    assert (root / "ota.part").stat().st_size == 10 * 1024
    n = len(gw.fetches)
    gw.hold_from = None
    dev.start()  # the board powers up again; no new offer needed: ota.json holds it
    _wait_exit(dev)
    _assert_staged(root, rel)
    assert gw.fetches[n]["off"] == 10 * 1024


def test_power_cut_mid_unpack_old_slot_intact_install_completes(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    rel = make_release(keys, "0.2.0")
    gw.releases[rel.version] = rel.payload
    dev, root = _device(make_device, mosquitto, tmp_path, keys)
    # The flash as a power cut in the middle of unpacking leaves it: the whole download and its
    # offer, and the inactive slot half written (no manifest yet).
    (root / "ota.part").write_bytes(rel.payload)
    meta = {"rel": rel.version, "mf": rel.manifest, "sig": rel.sig, "cs": 1024, "done": 0}
    (root / "ota.json").write_text(json.dumps(meta))
    half = root / "slot_b"
    half.mkdir()
    (half / "app.mpy").write_bytes(rel.files["app.mpy"][:100])
    dev.start()
    _wait_exit(dev)
    _assert_staged(root, rel)
    assert gw.fetches == []  # nothing downloaded again: verified from the file
    # And a real SIGKILL while the device unpacks: whatever moment it hits, the next boot ends
    # staged, with slot a untouched.
    (root / "boot.json").unlink()
    (root / "ota.part").write_bytes(rel.payload)
    (root / "ota.json").write_text(json.dumps(meta))
    dev.start()
    dev.wait_event(lambda e: e.get("st") == "unpacking", 30, "unpacking")
    dev.kill()
    assert slot_files(root, "a") == rel.files
    if boot_json(root).get("pending") != "b":
        dev.start()
        _wait_exit(dev)
    _assert_staged(root, rel)


def test_votes_during_a_download_are_delivered_exactly_once(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    rel = make_release(keys, "0.2.0")
    gw.releases[rel.version] = rel.payload
    gw.hold_from = 8 * 1024
    dev, root = _device(make_device, mosquitto, tmp_path, keys)
    dev.start()
    dev.wait_link()
    gw.send_cfg(DEV)
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)
    _held_at(gw, 4 * 1024)
    for i in range(5):
        dev.press(i)
        time.sleep(0.15)
    gw.wait(lambda: len(gw.of_kind("vote")) == 5, 30, "five votes")
    dev.wait_depth(0)
    gw.hold_from = None
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)  # the gateway's re-offer: ask at once
    _wait_exit(dev)
    _assert_staged(root, rel)
    votes = [m for m in gw.received if m["k"] == "vote"]
    assert sorted(v["s"] for v in gw.of_kind("vote")) == sorted({v["s"] for v in votes})
    assert len({(v["b"], v["s"]) for v in votes}) == 5
    assert [v for v in votes if not v.get("rs")] == gw.of_kind("vote")  # each sent once


def test_stop_keeps_the_file_and_a_new_offer_resumes(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    rel = make_release(keys, "0.2.0")
    gw.releases[rel.version] = rel.payload
    gw.hold_from = 6 * 1024
    dev, root = _device(make_device, mosquitto, tmp_path, keys)
    dev.start()
    dev.wait_link()
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)
    _held_at(gw, 6 * 1024)
    gw.stop_offer(DEV, rel.version)
    _wait_upd(gw, dev, "stopped")
    assert next(u for u in gw.upds if u["st"] == "stopped")["off"] == 6 * 1024
    n = len(gw.fetches)
    gw.hold_from = None
    time.sleep(6)  # longer than the 5 s re-ask: a stopped download asks nothing
    assert len(gw.fetches) == n
    # A reconnect does not restart a stopped download either.
    mosquitto.stop()
    dev.wait_link(up=False)
    mosquitto.start()
    dev.wait_link()
    time.sleep(1)
    assert len(gw.fetches) == n
    assert (root / "ota.part").stat().st_size == 6 * 1024
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)
    _wait_exit(dev)
    _assert_staged(root, rel)
    assert gw.fetches[n]["off"] == 6 * 1024


def test_heap_during_a_download(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    rel = make_release(keys, "0.2.0")
    gw.releases[rel.version] = rel.payload
    dev, root = _device(make_device, mosquitto, tmp_path, keys)
    dev.start()
    dev.wait_link()
    idle = dev.heap()
    idle_modules = set(dev.status()["modules"])
    peak = 0
    for stop in range(4, len(rel.payload) // 1024, 4):
        gw.hold_from = stop * 1024
        if stop == 4:
            gw.offer(DEV, rel.version, rel.manifest, rel.sig)
        _held_at(gw, stop * 1024)
        peak = max(peak, dev.heap())
    print(f"heap: idle {idle} B, download peak {peak} B (+{peak - idle} B)")
    gw.hold_from = None
    _wait_exit(dev)
    _assert_staged(root, rel)
    # The update's code is heap only during an update (on a board with ROMFS it runs in place).
    # 20 KB: measured +10.3-10.8 KB before issue #16 and +17-18 KB since (docs/benchmarks.md,
    # "Heap during a download": about one signature verifier's worth more, cause not found).
    assert peak - idle < 20 * 1024
    dev.start()  # and after the reset (and the new version's probation) nothing of it is loaded
    dev.wait_link()
    dev.wait_event(lambda e: e.get("ev") == "confirmed", 60, "confirmed")
    # Probation's task ends and leaves sys.modules after its last upd, and its objects are
    # garbage once the task is done; on a loaded machine that can take a while, so wait for the
    # heap to come back (bounded).
    # Then no module is loaded that the idle device did not have, and the heap is back within
    # 2 KB of idle: right after the confirmation it is +7 KB (probation's objects), the update's
    # code is +17 KB; what stays is +0.5 KB here and was +1.3 KB on the CI machine (names the
    # probation interned: MicroPython's qstr pools are heap and never freed; docs/benchmarks.md
    # "Heap during a download").
    bound = idle + 2048
    deadline = time.monotonic() + 30
    after = dev.heap()
    samples = [after]
    while after >= bound and time.monotonic() < deadline:
        time.sleep(0.25)
        after = dev.heap()
        samples.append(after)
    print(f"heap after the update {after} B (+{after - idle} B), samples {samples}")
    extra = set(dev.status()["modules"]) - idle_modules
    assert not extra, f"still loaded after the update: {sorted(extra)}"
    assert after < bound, f"heap after the update {after} B, idle {idle} B"


def test_full_image_download_with_a_power_cut_then_the_bootloader_decides(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    image = bytes((i * 31 + 7) & 0xFF for i in range(20_000))  # 4 blocks and a part of one
    rel = make_release(keys, "0.2.0", type_="image", payload=image)
    gw.releases[rel.version] = rel.payload
    gw.hold_from = 10 * 1024
    dev, root = _device(make_device, mosquitto, tmp_path, keys, ota_mode="image")
    # The device's esp32 module (built into a board's MicroPython): the fake, where the device's
    # modules are (slot a for the boot stage; the firmware directory for its stand-in).
    for d in {root / "slot_a", dev.firmware_dir} - {FIRMWARE_DIR}:
        shutil.copy(Path(fake_esp32.__file__), d / "esp32.py")
    flash = dev.workdir / "esp32_flash"  # the fake's flash: under the device's cwd
    dev.start()
    dev.wait_link()
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)
    _held_at(gw, 10 * 1024, dev)
    dev.kill()  # power cut: 10 KB received, two whole blocks (8 KB) in the partition
    assert json.loads((root / "ota.json").read_text())["done"] == 8192
    assert not (root / "ota.part").exists()  # an image goes to the partition, not a file
    n = len(gw.fetches)
    gw.hold_from = None
    dev.start()
    _wait_exit(dev)
    assert gw.fetches[n]["off"] == 8192  # resumed from the whole blocks on flash
    bj = boot_json(root)  # loader.stage(root, label, version): an image waits for its trial boot
    assert bj["image_pending"] == "ota_1" and bj["pending"] is None
    otadata = json.loads((flash / "otadata.json").read_text())
    assert otadata["boot"] == "ota_1" and otadata["states"]["ota_1"] == "new"
    assert (flash / "ota_1.bin").read_bytes()[: len(image)] == image
    assert not (root / "ota.json").exists()
    # The bootloader (the fake's, as at each reset): trial boot, then back without confirmation.
    fake_esp32.FLASH = str(flash)
    assert fake_esp32.power_cycle() == "ota_1"
    assert fake_esp32.ota_state("ota_1") == "pending_verify"
    assert fake_esp32.power_cycle() == "ota_0"
    assert fake_esp32.ota_state("ota_1") == "aborted"


def test_power_cut_between_stage_and_clean_up_the_new_version_clears_the_download(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    running = make_release(keys, "0.1.0")  # the version the device boots: the one just staged
    dev, root = _device(make_device, mosquitto, tmp_path, keys)
    (root / "ota.part").write_bytes(running.payload)
    meta = {"rel": "0.1.0", "mf": running.manifest, "sig": running.sig, "cs": 1024, "done": 0}
    (root / "ota.json").write_text(json.dumps(meta))
    dev.start()
    dev.wait_link()
    deadline = time.monotonic() + 15
    while (root / "ota.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (root / "ota.json").exists() and not (root / "ota.part").exists()
    assert gw.fetches == [] and dev.alive()


def test_a_flash_write_error_fails_the_download_and_the_device_carries_on(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    rel = make_release(keys, "0.2.0")
    gw.releases[rel.version] = rel.payload
    dev, root = _device(make_device, mosquitto, tmp_path, keys)
    (root / "ota.part").mkdir()  # appending to it fails, as on a full or failing filesystem
    dev.start()
    dev.wait_link()
    gw.send_cfg(DEV)
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)
    _wait_upd(gw, dev, "failed")
    failed = next(u for u in gw.upds if u["st"] == "failed")
    assert failed["err"].startswith("write: OSError")
    assert boot_json(root).get("pending") is None and not (root / "slot_b").exists()
    dev.press(0)
    gw.wait(lambda: len(gw.of_kind("vote")) == 1, 30, "a vote after the failure")
    time.sleep(5.5)  # past the 5 s re-ask: no retry loop (the next offer or connection retries)
    assert len(gw.fetches) == 1


def test_a_refused_offer_leaves_the_download_under_way_alone(
    mosquitto: Mosquitto, gw: StandinGateway, make_device: DeviceFactory, tmp_path: Path, keys: Keys
) -> None:
    rel = make_release(keys, "0.2.0")
    forged = make_release(make_keys(tmp_path / "other"), "0.3.0")
    gw.releases[rel.version] = rel.payload
    gw.hold_from = 5 * 1024
    dev, root = _device(make_device, mosquitto, tmp_path, keys)
    dev.start()
    dev.wait_link()
    gw.offer(DEV, rel.version, rel.manifest, rel.sig)
    _held_at(gw, 5 * 1024, dev)
    gw.offer(DEV, forged.version, forged.manifest, forged.sig)
    _wait_upd(gw, dev, "refused")
    assert json.loads((root / "ota.json").read_text())["rel"] == "0.2.0"
    assert (root / "ota.part").stat().st_size == 5 * 1024
    n = len(gw.fetches)
    gw.hold_from = None
    _wait_exit(dev)  # the 5 s re-ask picks the held chunk up again
    _assert_staged(root, rel)
    assert gw.fetches[n]["off"] == 5 * 1024 and {f["rel"] for f in gw.fetches} == {"0.2.0"}
