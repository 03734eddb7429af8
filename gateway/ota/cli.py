"""`hallrate firmware keygen|release|releases|rollout ...` (docs/updates.md). The argparse
parsers hang off `hallrate firmware` (gateway/firmware_tool.py); every refusal prints one line
"hallrate firmware <command>: <reason>" on stderr and exits 2."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, GatewayConfig, load
from gateway.journal import Journal
from gateway.ota import plan, signing
from gateway.ota.config import FirmwareConfig, Settings, check_settings, firmware_config
from gateway.ota.releases import (
    ReleaseError,
    list_releases,
    load_pubkey,
    load_release,
    make_release,
)
from gateway.ota.store import RolloutError, Store

COMMANDS = ("keygen", "release", "releases", "rollout")
ROLLOUT_COMMANDS = ("start", "status", "pause", "resume", "abort")


class Refused(Exception):
    """A bad command: one line, exit 2."""


def add_parsers(sub: Any) -> None:
    k = sub.add_parser("keygen", help="make an Ed25519 release key pair")
    k.add_argument("--out", type=Path, required=True, help="directory for release.key/.pub")
    r = sub.add_parser("release", help="compile, sign and store a release")
    _config(r)
    r.add_argument("--key", type=Path, required=True, help="the release private key (PEM)")
    r.add_argument("--version", required=True, help="MAJOR.MINOR.PATCH, e.g. 0.2.0")
    r.add_argument("--target", default="esp32", choices=("esp32", "unix"), help="default esp32")
    r.add_argument("--image", type=Path, help="a full firmware image instead of the app bundle")
    r.add_argument("--min", dest="min_version", help="lowest running version that may update")
    r.add_argument("--max", dest="max_version", help="highest running version that may update")
    r.add_argument("--kinds", help="device kinds, comma-separated (default: all)")
    r.add_argument("--boards", help="boards, comma-separated (default: by --target)")
    ls = sub.add_parser("releases", help="list the release store")
    _config(ls)
    ls.add_argument("--json", action="store_true", help="print JSON")
    ro = sub.add_parser("rollout", help="start, show, pause, resume or abort a roll-out")
    ro.add_argument("action", choices=ROLLOUT_COMMANDS)
    _config(ro)
    ro.add_argument("--release", help="start: the version to roll out")
    ro.add_argument("--devices", help="start: only these devices (comma-separated)")
    ro.add_argument("--canary", help="start: canary devices (comma-separated)")
    ro.add_argument("--waves", help="start: cumulative percentages, e.g. 10,50,100")
    ro.add_argument("--soak-s", help="start: soak time of a wave, seconds")
    ro.add_argument("--max-failures", help="start: halt at this many failures")
    ro.add_argument("--max-per-group", help="start: devices of a group at once")
    ro.add_argument("--confirm-timeout-s", help="start: seconds to confirm")
    ro.add_argument("--json", action="store_true", help="status: print JSON")


def _config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", default="hall.toml", help="hall.toml (default %(default)s)")


def _list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise Refused(f"empty list {text!r}")
    return items


def run(args: argparse.Namespace) -> int:
    name = args.cmd if args.cmd != "rollout" else f"rollout {args.action}"
    try:
        return _run(args)
    except (
        Refused,
        ConfigError,
        ReleaseError,
        RolloutError,
        FileExistsError,
        signing.KeyFileError,
    ) as e:
        print(f"hallrate firmware {name}: {e}", file=sys.stderr)
        return 2


def _load(args: argparse.Namespace) -> tuple[GatewayConfig, FirmwareConfig]:
    cfg = load(args.config)
    return cfg, firmware_config(cfg)


def _run(args: argparse.Namespace) -> int:
    if args.cmd == "keygen":
        key, pub = signing.generate_keypair(args.out)
        print(f"private key {key} (keep it off the gateway)\npublic key  {pub}")
        return 0
    cfg, fw = _load(args)
    if args.cmd == "release":
        rel = make_release(
            fw.releases,
            fw.pubkey,
            args.key,
            args.version,
            target=args.target,
            image=args.image,
            min_version=args.min_version,
            max_version=args.max_version,
            kinds=_list(args.kinds),
            boards=_list(args.boards),
        )
        m = rel.manifest
        print(f"release {rel.version}: {m['type']} {m['size']} bytes sha256 {m['sha256']}")
        print(f"stored in {rel.path}")
        return 0
    if args.cmd == "releases":
        return _releases(fw, args.json)
    return _rollout(cfg, fw, args)


def _pub(fw: FirmwareConfig) -> str | None:
    try:
        return signing.load_public_hex(fw.pubkey)
    except (OSError, ValueError):
        return None


def _releases(fw: FirmwareConfig, as_json: bool) -> int:
    rows = list_releases(fw.releases, _pub(fw))
    if as_json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print(f"no releases in {fw.releases}")
    for r in rows:
        ok = {True: "signature ok", False: "BAD: " + r.get("error", ""), None: "not checked"}
        print(
            f"{r['version']:<12} {r.get('type') or '?':<6} {r.get('size') or 0:>9} bytes"
            f"  kinds {','.join(r.get('kinds') or [])}  boards {','.join(r.get('boards') or [])}"
            f"  {r.get('created') or ''}  {ok[r['verified']]}"
        )
    return 0


# `rollout start` options given as text, parsed like the [rollout] keys of the same name.
_NUMBERS: dict[str, type[float] | type[int]] = {
    "soak_s": float,
    "max_failures": int,
    "max_per_group": int,
    "confirm_timeout_s": float,
}


def _settings(fw: FirmwareConfig, cfg: GatewayConfig, args: argparse.Namespace) -> Settings:
    s = fw.rollout
    changes: dict[str, Any] = {}
    if args.canary is not None:
        canary = [d.strip() for d in args.canary.split(",")]
        if not all(canary):
            raise Refused("--canary must be a list of device ids")
        changes["canary"] = tuple(canary)
    if args.waves is not None:
        try:
            changes["waves"] = tuple(int(w.strip()) for w in args.waves.split(","))
        except ValueError:
            raise Refused("--waves must be a list of integers") from None
    for opt, kind in _NUMBERS.items():
        text = getattr(args, opt)
        if text is None:
            continue
        try:
            changes[opt] = kind(text.strip())
        except ValueError:
            what = "a number" if kind is float else "an integer"
            raise Refused(f"--{opt.replace('_', '-')} must be {what}") from None
    try:
        return check_settings(dataclasses.replace(s, **changes), cfg.devices)
    except ConfigError as e:
        text = str(e)
        for key in (
            "canary",
            "waves",
            "soak_s",
            "max_failures",
            "max_per_group",
            "confirm_timeout_s",
        ):
            text = text.replace(f"rollout.{key}", "--" + key.replace("_", "-"))
        raise Refused(text) from None


def _rollout(cfg: GatewayConfig, fw: FirmwareConfig, args: argparse.Namespace) -> int:
    j = Journal(cfg.journal_path)
    try:
        store = Store(j)
        if args.action == "start":
            return _start(cfg, fw, store, args)
        if args.action == "status":
            return _status(store, cfg, args.json)
        r = store.command(args.action)
        print(f"roll-out {r.id} of {r.release}: {r.state} (the gateway acts on it within 1 s)")
        return 0
    finally:
        j.close()


def _start(cfg: GatewayConfig, fw: FirmwareConfig, store: Store, args: argparse.Namespace) -> int:
    if not args.release:
        raise Refused("start needs --release VERSION")
    rel = load_release(fw.releases, args.release, load_pubkey(fw.pubkey))
    settings = _settings(fw, cfg, args)
    kinds = rel.manifest["kinds"]
    chosen = _list(args.devices)
    if chosen is not None:
        unknown = [d for d in chosen if d not in cfg.devices]
        if unknown:
            raise Refused(f"--devices: unknown device {', '.join(unknown)}")
        other = [d for d in chosen if cfg.devices[d].kind not in kinds]
        if other:
            raise Refused(
                f"--devices: {', '.join(other)} not of a kind release {rel.version} is for"
                f" ({', '.join(kinds)})"
            )
    devices = {
        d: c.kind
        for d, c in cfg.devices.items()
        if c.kind in kinds and (chosen is None or d in chosen)
    }
    if not devices:
        raise Refused(f"no configured device of kind {', '.join(kinds)} to update")
    outside = [d for d in settings.canary if d not in devices]
    if outside and args.canary is not None:  # [rollout] canary: those in this roll-out only
        raise Refused(f"--canary: {', '.join(outside)} not among the devices of this roll-out")
    waves = plan.assign_waves(devices, settings)
    groups = {d: cfg.devices[d].group or cfg.devices[d].window or "exit" for d in devices}
    rid = store.start(rel.version, settings, waves, groups)
    per_wave: dict[int, list[str]] = {}
    for d, w in sorted(waves.items()):
        per_wave.setdefault(w, []).append(d)
    print(f"roll-out {rid} of {rel.version} started: {len(devices)} devices")
    for w, ds in sorted(per_wave.items()):
        print(f"  {'canary' if w == 0 else f'wave {w}'}: {', '.join(ds)}")
    return 0


def _status(store: Store, cfg: GatewayConfig, as_json: bool) -> int:
    st = store.status(time.time(), cfg.device_offline_s)
    if as_json:
        print(json.dumps(st, indent=1, ensure_ascii=False))
        return 0
    if st is None:
        print("no roll-out")
        return 0
    for line in status_lines(st):
        print(line)
    return 0


def status_lines(st: dict[str, Any]) -> list[str]:
    """The text of `rollout status` (also what tests read)."""
    state = st["state"]
    head = f"{state}: {st['reason']}" if st["reason"] else state
    wave = "canary" if st["wave"] == 0 else f"wave {st['wave']} of {st['waves']}"
    lines = [
        f"roll-out {st['id']} of {st['release']}: {head}",
        f"at {wave}; failures {st['failures']} of max {st['settings']['max_failures']}",
    ]
    for d in st["devices"]:
        w = "canary" if d["wave"] == 0 else f"wave {d['wave']}"
        extra = d["err"] or (d["phase"] if d["state"] == plan.UPDATING else "")
        if d["state"] == plan.UPDATING and d["phase"] == "downloading" and d["off"] is not None:
            extra += f" {d['off']} bytes"
        lines.append(
            f"  {d['device']:<10} {w:<8} {d['group']:<8} {d['state']:<10}"
            f" fw {d['fw'] or '?':<10} {'online' if d['online'] else 'offline':<8} {extra}".rstrip()
        )
    return lines
