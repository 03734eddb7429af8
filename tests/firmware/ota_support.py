"""Updates under test: a release key, signed releases, a device root with slot a, and the
device config that points the firmware at them (firmware/ota.py; docs/firmware.md, Updates)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway import firmware_bundle as fb
from gateway.firmware_tool import unix_mpy_filesystem
from gateway.ota import signing
from simulator.firmware_process import FIRMWARE_DIR
from tests.firmware.conftest import device_config
from tests.support.brokers import Broker

RUNNING = "0.1.0"

# Until firmware/loader.py (the boot stage, another part of issue #15) is in the tree, the device
# gets this stand-in with the two calls an update makes, from a copy of the firmware directory.
_STUB_LOADER = '''"""Test stand-in for firmware/loader.py: stage(), request_reset(); hal.reset."""
import json
import sys


def _rw(root, **kw):
    try:
        with open(root + "/boot.json") as f:
            d = json.load(f)
    except OSError:
        d = {"v": 1, "active": "a", "pending": None, "tries": 0, "crashes": 0, "boots": 0,
             "rb": "", "rb_from": "", "ft": "", "reset": "", "image_pending": None}
    d.update(kw)
    with open(root + "/boot.json.new", "w") as f:
        f.write(json.dumps(d))
    import os
    os.rename(root + "/boot.json.new", root + "/boot.json")


def stage(root, slot, version):
    _rw(root, pending=slot, tries=0)


def request_reset(root, why):
    _rw(root, reset=why)


from hal.unix import UnixHal

if not hasattr(UnixHal, "reset"):
    def _reset(self, why):
        request_reset(self.conf["root"], why)
        self.log({"ev": "reset", "why": why})
        sys.exit(3)

    UnixHal.reset = _reset
'''


@dataclass
class Release:
    version: str
    payload: bytes
    manifest: str
    sig: str
    files: dict[str, bytes]


@dataclass
class Keys:
    key: Any  # Ed25519PrivateKey
    pub: str


def make_keys(where: Path) -> Keys:
    key_path, pub_path = signing.generate_keypair(where)
    return Keys(signing.load_private(key_path), signing.load_public_hex(pub_path))


@functools.cache
def unix_app() -> tuple[tuple[str, bytes], ...]:
    """The unix port's application modules compiled to .mpy (once per test session)."""
    return tuple(sorted(fb.compile_app("unix").items()))


def make_release(
    keys: Keys,
    version: str,
    kinds: tuple[str, ...] = ("evaluator", "ballot_box"),
    boards: tuple[str, ...] = ("unix",),
    min_version: str | None = None,
    max_version: str | None = None,
    type_: str = "app",
    payload: bytes | None = None,
) -> Release:
    files = dict(unix_app())
    if payload is None:
        payload = fb.pack(files)
    text = fb.manifest_text(
        version, payload, type_, kinds, boards, min_version, max_version, created="2026-12-03"
    )
    return Release(version, payload, text, signing.sign(keys.key, text), files)


def device_root(where: Path, keys: Keys) -> Path:
    """A device root as a deploy leaves it: slot a holds the running release."""
    where.mkdir(parents=True, exist_ok=True)
    rel = make_release(keys, RUNNING)
    fb.install_slot(where, "a", rel.files, rel.manifest, rel.sig)
    return where


def firmware_dir(where: Path) -> Path | None:
    """None (the tree's boot stage runs slot a's .mpy) once firmware/loader.py exists; until then
    the firmware as .mpy files (as a board runs a filesystem deploy) with the stand-in loader."""
    if (FIRMWARE_DIR / "loader.py").exists():
        return None
    dst = where / "fw"
    if not dst.exists():
        unix_mpy_filesystem(dst)
        (dst / "loader.py").write_text(_STUB_LOADER)
    return dst


def ota_config(broker: Broker, root: Path, keys: Keys, **extra: Any) -> dict[str, Any]:
    conf = device_config(broker, root=str(root), ota_pubkey=keys.pub, **extra)
    # What main_unix.py's boot stage puts in conf["fw"] (it overrides this once it exists).
    conf.setdefault("fw", {"version": RUNNING, "slot": "a", "probation": False, "root": str(root)})
    return conf


def boot_json(root: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((root / "boot.json").read_text()))
    except FileNotFoundError:
        return {}


def slot_files(root: Path, slot: str) -> dict[str, bytes]:
    d = root / f"slot_{slot}"
    return {
        p.relative_to(d).as_posix(): p.read_bytes()
        for p in sorted(d.rglob("*"))
        if p.is_file() and p.name not in ("manifest.json", "manifest.sig")
    }
