"""`hallrate firmware factory`: a blank board to a tested, recorded device (docs/provisioning.md,
"Factory"; ADR 0017).

    1. the stock image file checked against the board's pin map (variant and version in its name)
    2. esptool (5.x): erase-flash, write-flash, read-mac
    3. the deploy of `deploy --device` in one mpremote session, left in maintenance mode
    4. the self-test session: firmware/factory_test.py on the board (the technician presses each
       button / blocks each beam / opens the lid when asked), then the NVS backup, maintenance
       off and a reset, only when every check passed
    5. one inventory row (gateway/inventory.py), pass or fail
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway import firmware_session as fs
from gateway import inventory

# The stock images' file names on micropython.org/download: <VARIANT>-<yyyymmdd>-v<x.y.z>.bin
_IMAGE = re.compile(r"^(?P<variant>[A-Z0-9_-]+?)-(?P<date>\d{8})-v(?P<version>\d+\.\d+\.\d+)\.bin$")
_CHIP = {"esp32": ("esp32", "0x1000"), "esp32s3": ("esp32s3", "0x0")}  # chip, image offset
_MAC = re.compile(r"MAC:\s*([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})")

Runner = Callable[[Sequence[str]], tuple[int, str]]


class FactoryError(ValueError):
    """Refused before anything was flashed, or a step failed; the message says which."""


def check_image(image: Path, pin_map: dict[str, Any]) -> None:
    """The image file exists and its name carries the pin map's variant and version."""
    version, variant = fs.pinned_image(pin_map)
    if not image.is_file():
        raise FactoryError(f"{image}: no such image file")
    m = _IMAGE.match(image.name)
    if not m:
        raise FactoryError(
            f"{image.name}: not a stock image name (<VARIANT>-<yyyymmdd>-v<x.y.z>.bin)"
        )
    if (m["variant"], m["version"]) != (variant, version):
        raise FactoryError(
            f"{image.name}: {m['variant']} v{m['version']}; the {pin_map['board']} pin map pins "
            f"{variant} v{version}"
        )


def esptool_commands(
    board: str, port: str, image: Path, esptool: str = "esptool"
) -> list[list[str]]:
    chip, offset = _CHIP[board]
    base = [esptool, "--chip", chip, "--port", port]
    return [
        [*base, "erase-flash"],
        [*base, "--baud", "460800", "write-flash", "-z", offset, str(image)],
        [*base, "read-mac"],
    ]


def self_test_program(board: str, kind: str, timeout_s: int) -> str:
    """The program the self-test session runs on the board (from slot_a, in maintenance mode)."""
    return (
        "import sys,json,asyncio\n"
        "sys.path.insert(0,'/slot_a')\n"
        "conf=json.load(open('/config.json'))\n"
        "import pins,factory_test\n"
        "from hal.esp32 import Esp32Hal\n"
        f"hal=Esp32Hal(conf,pins.PINS[{board!r}][{kind!r}])\n"
        f"r=asyncio.run(factory_test.run(hal,conf,{timeout_s}))\n"
        "if not r['ok']:\n"
        " raise Exception('hallrate factory: self-test failed: '+' '.join(r['fail']))\n"
    )


def self_test_session(
    board: str, kind: str, port: str, timeout_s: int, mpremote: str = "mpremote"
) -> list[str]:
    return [
        mpremote,
        "connect",
        port,
        "exec",
        self_test_program(board, kind, timeout_s),
        "+",
        "exec",
        fs.finish(),
        "+",
        "reset",
    ]


def result_of(output: str) -> dict[str, Any]:
    """The {"ev": "factory_result"} line of the self-test's output."""
    for line in output.splitlines():
        if line.startswith("{") and '"factory_result"' in line:
            try:
                return dict(json.loads(line))
            except ValueError:
                break
    raise FactoryError("the self-test printed no result (see its output above)")


def _run(argv: Sequence[str]) -> tuple[int, str]:
    """Run a step, showing its output as it comes, and return it too."""
    p = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    assert p.stdout is not None
    for line in p.stdout:
        sys.stdout.write(line)
        out.append(line)
    return p.wait(), "".join(out)


def factory(
    cfg: Any,
    device: str,
    port: str,
    image: Path,
    inventory_path: Path,
    board: str,
    accounts: Path | None = None,
    release: str | None = None,
    timeout_s: int = 30,
    run: Runner = _run,
    deploy: Callable[..., int] | None = None,
    mpremote: str = "mpremote",
    esptool: str = "esptool",
) -> int:
    """The whole command; 0 when the device passed, 1 when a check failed (recorded as "fail")."""
    from gateway import firmware_deploy
    from gateway.firmware_tool import load_pin_maps

    maps = load_pin_maps()
    if board not in maps:
        raise FactoryError(f"--board must be one of {', '.join(sorted(maps))}")
    check_image(image, maps[board])
    kind = cfg.devices[device].kind if device in cfg.devices else None
    if kind is None:
        raise FactoryError(f"device {device!r} is not in hall.toml [devices]")
    files = firmware_deploy.device_files(cfg, device, board, accounts, release)  # refusals first
    rel = json.loads(files["slot_a/manifest.json"])["version"]
    mac = ""
    for argv in esptool_commands(board, port, image, esptool):
        rc, out = run(argv)
        if rc != 0:
            step = next(a for a in argv if a in ("erase-flash", "write-flash", "read-mac"))
            raise FactoryError(f"esptool {step} failed (exit {rc})")
        found = _MAC.search(out)
        mac = found.group(1).lower() if found else mac
    if not mac:
        raise FactoryError("esptool read-mac printed no MAC")
    do_deploy = deploy or firmware_deploy.run
    rc = do_deploy(cfg, device, port, None, board, accounts, release, False, False)
    if rc != 0:
        raise FactoryError(f"the deploy failed (exit {rc}); the board stays in maintenance mode")
    rc, out = run(self_test_session(board, kind, port, timeout_s, mpremote))
    res = result_of(out)
    version, variant = fs.pinned_image(maps[board])
    inventory.append(
        inventory_path,
        {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "mac": mac,
            "device": device,
            "hall": cfg.hall,
            "kind": kind,
            "board": board,
            "micropython": res.get("mp") or f"{version} {variant}",
            "firmware": rel,
            "rssi": res.get("rssi"),
            "result": "pass" if res.get("ok") and rc == 0 else "fail",
            "failures": " ".join(res.get("fail", [])),
        },
    )
    print(f"{device}: {'pass' if res.get('ok') else 'FAIL'} (MAC {mac}) -> {inventory_path}")
    return 0 if res.get("ok") and rc == 0 else 1
