"""The release store (hall.toml [firmware] releases): one directory per version,

    <releases>/<version>/manifest.json   the signed manifest's exact text
    <releases>/<version>/manifest.sig    its Ed25519 signature (128 hex characters)
    <releases>/<version>/payload.bin     the application bundle (HRB1) or the full image

written by `hallrate firmware release` (docs/updates.md). A release is only ever added whole
(written into a hidden directory, then renamed) and never replaced.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from gateway import firmware_bundle as fb
from gateway.ota import signing

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PAYLOAD = "payload.bin"


class ReleaseError(ValueError):
    """A release that cannot be made, found or trusted; the message says why."""


@dataclass(frozen=True)
class Release:
    version: str
    manifest_text: str
    sig_hex: str
    path: Path

    @property
    def manifest(self) -> dict[str, Any]:
        return fb.parse_manifest(self.manifest_text)

    @property
    def payload(self) -> Path:
        return self.path / PAYLOAD


def load_pubkey(pubkey_path: Path) -> str:
    """[firmware] pubkey's hex key; ReleaseError (one line) when missing or malformed."""
    if not pubkey_path.is_file():
        raise ReleaseError(
            f"[firmware].pubkey {pubkey_path} not found (hallrate firmware keygen makes one)"
        )
    try:
        return signing.load_public_hex(pubkey_path)
    except ValueError as e:
        raise ReleaseError(str(e)) from None


def make_release(
    releases: Path,
    pubkey_path: Path,
    key_path: Path,
    version: str,
    target: str = "esp32",
    image: Path | None = None,
    min_version: str | None = None,
    max_version: str | None = None,
    kinds: Sequence[str] | None = None,
    boards: Sequence[str] | None = None,
    payload: bytes | None = None,
) -> Release:
    """Build (or read ``image``), sign and store release ``version``. ``payload`` short-cuts the
    build with ready bundle bytes (tests)."""
    try:
        fb.parse_version(version)
        for v in (min_version, max_version):
            if v is not None:
                fb.parse_version(v)
    except fb.BundleError as e:
        raise ReleaseError(str(e)) from None
    if target not in ("esp32", "unix"):
        raise ReleaseError(f"--target must be esp32 or unix, got {target!r}")
    dest = releases / version
    if dest.exists():
        raise ReleaseError(f"release {version} exists already ({dest}): never replaced")
    pub = load_pubkey(pubkey_path)
    if not key_path.is_file():
        raise ReleaseError(f"--key {key_path}: not found")
    try:
        key = signing.load_private(key_path)
    except ValueError as e:
        raise ReleaseError(str(e)) from None
    probe = "hallrate release key check"
    if not signing.verify(pub, probe, signing.sign(key, probe)):
        raise ReleaseError(f"--key {key_path} does not match [firmware].pubkey {pubkey_path}")
    if image is not None:
        if not image.is_file():
            raise ReleaseError(f"--image {image}: not found")
        data, type_ = image.read_bytes(), "image"
    else:
        data = payload if payload is not None else fb.pack(fb.compile_app(target))
        type_ = "app"
    default_boards = ("unix",) if target == "unix" else ("esp32", "esp32s3")
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        text = fb.manifest_text(
            version,
            data,
            type_,
            kinds=tuple(kinds or fb.DEVICE_KINDS),
            boards=tuple(boards or default_boards),
            min_version=min_version,
            max_version=max_version,
            created=created,
        )
    except fb.BundleError as e:
        raise ReleaseError(str(e)) from None
    sig = signing.sign(key, text)
    releases.mkdir(parents=True, exist_ok=True)
    tmp = releases / f".{version}.new"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    (tmp / PAYLOAD).write_bytes(data)
    (tmp / MANIFEST).write_text(text)
    (tmp / SIGNATURE).write_text(sig + "\n")
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    os.rename(tmp, dest)
    return Release(version, text, sig, dest)


def load_release(releases: Path, version: str, pub_hex: str | None = None) -> Release:
    """Release ``version`` from the store; with ``pub_hex`` its signature and payload (size,
    SHA-256) are checked too (the gateway offers nothing it could not verify itself)."""
    try:
        fb.parse_version(version)
    except fb.BundleError as e:
        raise ReleaseError(str(e)) from None
    d = releases / version
    try:
        text = (d / MANIFEST).read_text()
        sig = (d / SIGNATURE).read_text().strip()
    except FileNotFoundError:
        raise ReleaseError(f"no release {version} in {releases}") from None
    rel = Release(version, text, sig, d)
    if pub_hex is not None:
        verify_release(rel, pub_hex)
    return rel


def verify_release(rel: Release, pub_hex: str) -> None:
    if not signing.verify(pub_hex, rel.manifest_text, rel.sig_hex):
        raise ReleaseError(f"release {rel.version}: signature does not match [firmware].pubkey")
    try:
        m = rel.manifest
    except fb.BundleError as e:
        raise ReleaseError(f"release {rel.version}: {e}") from None
    if m["version"] != rel.version:
        raise ReleaseError(f"release {rel.version}: its manifest says {m['version']}")
    if _sha256(rel.payload) != (m["size"], m["sha256"]):
        raise ReleaseError(f"release {rel.version}: payload.bin does not match its manifest")


@lru_cache(maxsize=16)
def _sha256_cached(path: str, mtime: float, size: int) -> tuple[int, str]:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(65536), b""):
            h.update(block)
    return size, h.hexdigest()


def _sha256(path: Path) -> tuple[int, str]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return 0, ""
    return _sha256_cached(str(path), st.st_mtime, st.st_size)


def list_releases(releases: Path, pub_hex: str | None) -> list[dict[str, Any]]:
    """Every release in the store, oldest version first, with whether it verifies."""
    out = []
    dirs = [p for p in releases.iterdir() if p.is_dir()] if releases.is_dir() else []
    for d in dirs:
        try:
            key = fb.parse_version(d.name)
        except fb.BundleError:
            continue  # .x.new, or anything else that is not a release
        row: dict[str, Any] = {"version": d.name, "_key": key}
        try:
            rel = load_release(releases, d.name)
            m = rel.manifest
            row |= {k: m.get(k) for k in ("type", "size", "kinds", "boards", "min", "max")}
            row["created"] = m.get("created")
            if pub_hex is None:
                row["verified"] = None
            else:
                verify_release(rel, pub_hex)
                row["verified"] = True
        except (ReleaseError, fb.BundleError) as e:
            row["verified"] = False
            row["error"] = str(e)
        out.append(row)
    out.sort(key=lambda r: r.pop("_key"))
    return out
