"""`hallrate firmware factory` (gateway/factory.py) and the inventory it writes, read by
`hallrate gateway provision --inventory` (gateway/inventory.py); the self-test itself
(firmware/factory_test.py) on the real MicroPython unix port with the unix hal, its inputs
driven through the hal's control channel as a technician would press and block them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from gateway import cli as gateway_cli
from gateway import factory, inventory
from gateway import firmware_deploy as fdeploy
from gateway import firmware_session as fs
from gateway.config import load
from gateway.firmware_tool import FIRMWARE_DIR, load_pin_maps
from tests.gateway.test_provision import STRONG, hall_toml

S3_IMAGE = "ESP32_GENERIC_S3-SPIRAM_OCT-20260301-v1.28.0.bin"
MAC_OUT = "esptool v5\nChip is ESP32-S3\nMAC: DC:54:75:C8:A1:F0\nHard resetting"


def _row(**kw: str) -> dict[str, str]:
    row = {
        "date": "2026-03-02T09:15:00+00:00",
        "mac": "dc:54:75:c8:a1:f0",
        "device": "EV-A03",
        "hall": "H1",
        "kind": "evaluator",
        "board": "esp32s3",
        "micropython": "1.28.0 ESP32_GENERIC_S3-SPIRAM_OCT",
        "firmware": "1.0.0",
        "rssi": "-61",
        "result": "pass",
        "failures": "",
    }
    row.update(kw)
    return row


# ---- the image and the command sequences -------------------------------------------------------


def test_the_image_file_must_be_the_pinned_one(tmp_path: Path) -> None:
    maps = load_pin_maps()
    good = tmp_path / S3_IMAGE
    good.write_bytes(b"\xe9")
    factory.check_image(good, maps["esp32s3"])
    for name, msg in (
        ("ESP32_GENERIC_S3-20260301-v1.28.0.bin", "ESP32_GENERIC_S3 v1.28.0; the esp32s3 pin map"),
        ("ESP32_GENERIC_S3-SPIRAM_OCT-20250101-v1.24.1.bin", "v1.24.1; the esp32s3 pin map pins"),
        ("firmware.bin", "not a stock image name"),
    ):
        (tmp_path / name).write_bytes(b"\xe9")
        with pytest.raises(factory.FactoryError, match=msg):
            factory.check_image(tmp_path / name, maps["esp32s3"])
    with pytest.raises(factory.FactoryError, match="no such image file"):
        factory.check_image(tmp_path / "ESP32_GENERIC-20260301-v1.28.0.bin", maps["esp32"])


def test_esptool_command_lines() -> None:
    img = Path("/img/x.bin")
    assert factory.esptool_commands("esp32s3", "/dev/ttyACM0", img) == [
        ["esptool", "--chip", "esp32s3", "--port", "/dev/ttyACM0", "erase-flash"],
        ["esptool", "--chip", "esp32s3", "--port", "/dev/ttyACM0", "--baud", "460800",
         "write-flash", "-z", "0x0", "/img/x.bin"],
        ["esptool", "--chip", "esp32s3", "--port", "/dev/ttyACM0", "read-mac"],
    ]  # fmt: skip
    assert factory.esptool_commands("esp32", "P", img)[1][-2] == "0x1000"  # after the bootloader


def _hall(tmp_path: Path) -> Any:
    return load(hall_toml(tmp_path, devices=("EV-A03",), password=STRONG))


def test_factory_runs_esptool_deploy_and_the_self_test_then_records_a_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _hall(tmp_path)
    img = tmp_path / S3_IMAGE
    img.write_bytes(b"\xe9")
    monkeypatch.setattr(
        fdeploy, "device_files", lambda *a: {"slot_a/manifest.json": b'{"version": "1.4.0"}'}
    )
    ran: list[list[str]] = []
    deployed: list[tuple[Any, ...]] = []
    result = {"ev": "factory_result", "ok": True, "fail": [], "rssi": -58, "mp": "1.28.0 X"}

    def run(argv: Sequence[str]) -> tuple[int, str]:
        ran.append(list(argv))
        if argv[0] == "esptool":
            return 0, MAC_OUT if argv[-1] == "read-mac" else ""
        return 0, '{"ev": "factory", "ask": "button0"}\n' + json.dumps(result) + "\n"

    inv = tmp_path / "inventory.csv"
    rc = factory.factory(
        cfg, "EV-A03", "/dev/ttyACM0", img, inv, "esp32s3", run=run,
        deploy=lambda *a: deployed.append(a) or 0,
    )  # fmt: skip
    assert rc == 0
    assert ran[:3] == factory.esptool_commands("esp32s3", "/dev/ttyACM0", img)
    # the deploy: same device and port, the image check on, left in maintenance mode (finish off)
    assert deployed == [(cfg, "EV-A03", "/dev/ttyACM0", None, "esp32s3", None, None, False, False)]
    st = ran[3]
    assert st[:4] == ["mpremote", "connect", "/dev/ttyACM0", "exec"] and len(ran) == 4
    steps = fs.steps_of(st)
    assert (
        "factory_test.run(hal,conf,30)" in steps[0][1] and "'esp32s3']['evaluator']" in steps[0][1]
    )
    assert steps[1] == ["exec", fs.finish()] and steps[2] == ["reset"]
    [row] = inventory.read(inv)
    assert row["mac"] == "dc:54:75:c8:a1:f0" and row["device"] == "EV-A03"
    assert (row["result"], row["failures"], row["rssi"]) == ("pass", "", "-58")
    assert (row["firmware"], row["micropython"], row["board"]) == ("1.4.0", "1.28.0 X", "esp32s3")

    # a failing self-test: the session exits 1 (finish never ran), the row says why
    result.update(ok=False, fail=["button2", "wifi"], rssi=None)
    ran.clear()
    rc = factory.factory(
        cfg, "EV-A03", "P", img, inv, "esp32s3",
        run=lambda a: (1, json.dumps(result)) if a[0] == "mpremote" else run(a),
        deploy=lambda *a: 0,
    )  # fmt: skip
    assert rc == 1
    rows = inventory.read(inv)
    assert (rows[1]["result"], rows[1]["failures"], rows[1]["rssi"]) == ("fail", "button2 wifi", "")


def test_factory_refusals_flash_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gateway import firmware_tool as ft

    conf = hall_toml(tmp_path, devices=("EV-A03",), password=STRONG)
    bad = tmp_path / "ESP32_GENERIC-20260301-v1.28.0.bin"
    bad.write_bytes(b"\xe9")
    argv = ["factory", "-c", str(conf), "--device", "EV-A03", "--port", "P", "--image", str(bad),
            "--inventory", str(tmp_path / "inv.csv"), "--board", "esp32s3"]  # fmt: skip
    assert ft.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hallrate firmware factory: ESP32_GENERIC-20260301-v1.28.0.bin:")
    assert "pins ESP32_GENERIC_S3-SPIRAM_OCT v1.28.0" in err
    assert not (tmp_path / "inv.csv").exists()
    argv[argv.index("EV-A03")] = "EV-Z99"
    argv[argv.index(str(bad))] = str(tmp_path / S3_IMAGE)
    (tmp_path / S3_IMAGE).write_bytes(b"\xe9")
    assert ft.main(argv) == 2
    assert "device 'EV-Z99' is not in hall.toml [devices]" in capsys.readouterr().err


# ---- the inventory and provision ---------------------------------------------------------------


def test_inventory_rows_are_checked(tmp_path: Path) -> None:
    p = tmp_path / "inv.csv"
    inventory.append(p, _row())
    assert inventory.read(p) == [_row()]
    assert p.read_text().splitlines()[0] == ",".join(inventory.COLUMNS)
    for bad, msg in (
        ({"mac": "DC-54-75-C8-A1-F0"}, "mac 'DC-54-75-C8-A1-F0' is not aa:bb:cc:dd:ee:ff"),
        ({"date": "yesterday"}, "date 'yesterday' is not an ISO 8601 time"),
        ({"result": "ok"}, "result must be pass or fail, got 'ok'"),
        ({"kind": "toaster"}, "kind must be one of evaluator, ballot_box"),
        ({"rssi": "strong"}, "rssi 'strong' is not a whole dBm number"),
        ({"device": "EV A03"}, "device 'EV A03' is not"),
    ):
        q = tmp_path / "bad.csv"
        q.write_text(p.read_text() + ",".join(_row(**bad).values()) + "\n")
        with pytest.raises(inventory.InventoryError, match=f"bad.csv line 3: {msg}"):
            inventory.read(q)
    q.write_text("mac,device\n")
    with pytest.raises(inventory.InventoryError, match="line 1: the header must be date,mac,"):
        inventory.read(q)
    q.write_text(p.read_text() + "2026-03-02,dc:54:75:c8:a1:f0\n")
    with pytest.raises(inventory.InventoryError, match="line 3: 2 fields, not 11"):
        inventory.read(q)


def test_provision_binds_each_device_to_its_latest_passing_mac(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = hall_toml(tmp_path, devices=("EV-A03", "EV-A04"), password=STRONG)
    inv = tmp_path / "inv.csv"
    inventory.append(inv, _row(mac="aa:aa:aa:aa:aa:01", date="2026-03-01T09:00:00+00:00"))
    inventory.append(inv, _row(mac="aa:aa:aa:aa:aa:02"))  # the board was replaced: newer
    inventory.append(inv, _row(device="EV-A04", mac="aa:aa:aa:aa:aa:03", result="fail"))
    inventory.append(inv, _row(device="EV-A09", mac="aa:aa:aa:aa:aa:04"))
    inventory.append(inv, _row(device="EV-A04", hall="H2", mac="aa:aa:aa:aa:aa:05"))
    out = tmp_path / "out"
    argv = ["provision", "--config", str(conf), "--out", str(out), "--inventory", str(inv)]
    assert gateway_cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "inventory: 1 devices bound to their MAC" in text
    assert "not in the inventory (no passing factory run): EV-A04" in text
    assert "in the inventory but not in hall.toml: EV-A09" in text
    data = json.loads((out / "H1" / "inventory.json").read_text())
    assert data["bound"] == {
        "EV-A03": {"mac": "aa:aa:aa:aa:aa:02", "board": "esp32s3", "firmware": "1.0.0",
                   "date": "2026-03-02T09:15:00+00:00"},
    }  # fmt: skip
    assert (out / "H1" / "inventory.json").stat().st_mode & 0o777 == 0o600

    # one MAC on two devices (a board moved between counters): refused, nothing written
    inventory.append(inv, _row(device="EV-A04", mac="aa:aa:aa:aa:aa:02"))
    out2 = tmp_path / "out2"
    argv = ["provision", "--config", str(conf), "--out", str(out2), "--inventory", str(inv)]
    assert gateway_cli.main(argv) == 2
    assert "MAC aa:aa:aa:aa:aa:02 is bound to both EV-A03 and EV-A04 in hall H1" in (
        capsys.readouterr().err
    )
    assert not out2.exists()
    # a bad row: refused with its line
    inv.write_text(inv.read_text() + "x\n")
    assert gateway_cli.main(argv) == 2
    assert "inv.csv line 8: 1 fields, not 11" in capsys.readouterr().err


# ---- the self-test on the unix port ------------------------------------------------------------

_SELF_TEST = """
import sys, json, asyncio
sys.path.insert(0, {fw!r})
import factory_test
from hal.unix import UnixHal
conf = json.loads({conf!r})
asyncio.run(factory_test.run(UnixHal(conf), conf, {timeout}, control=True))
"""


def _self_test(micropython: str, conf: dict[str, Any], answer: dict[str, str], timeout: int) -> Any:
    """Run the self-test; answer each "ask" with the control lines in ``answer`` (none: the
    technician does nothing); return the result line and the asks."""
    code = _SELF_TEST.format(fw=str(FIRMWARE_DIR), conf=json.dumps(conf), timeout=timeout)
    p = subprocess.Popen(
        [micropython, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert p.stdin is not None and p.stdout is not None
    asks = []
    try:
        for line in p.stdout:
            ev = json.loads(line)
            if ev.get("ev") == "factory":
                asks.append(ev["ask"])
                for cmd in answer.get(ev["ask"], "").splitlines():
                    p.stdin.write(cmd + "\n")  # a technician's pace: open the lid, then close it
                    p.stdin.flush()
                    time.sleep(0.2)
            elif ev.get("ev") == "factory_result":
                return ev, asks
    finally:
        p.kill()
        p.wait()
    raise AssertionError("no result")


@pytest.mark.timeout(60)
def test_self_test_evaluator_on_the_unix_port(micropython: str) -> None:
    conf = {"kind": "evaluator", "buttons": 3, "leds": ["ask", "status"]}
    res, asks = _self_test(
        micropython, conf, {f"button{i}": f"press {i} 60" for i in range(3)}, timeout=10
    )
    assert asks == ["button0", "button1", "button2"]
    assert res["ok"] is True and res["fail"] == [] and res["rssi"] == -55
    assert res["mp"].startswith("1.29.0")  # the interpreter's version and build
    # button 1 never pressed: it fails after the timeout, the others pass
    res, _ = _self_test(micropython, conf, {"button0": "press 0 60", "button2": "press 2 60"}, 1)
    assert res["ok"] is False and res["fail"] == ["button1"]


@pytest.mark.timeout(60)
def test_self_test_ballot_box_on_the_unix_port(micropython: str) -> None:
    # "beam N MS" passes a ticket through slot N: its entry beam, then its confirm beam.
    answer = {f"{b}{i}": f"beam {i} 60" for i in range(3) for b in ("beam", "confirm")}
    answer["lid0"] = "lid 1\nlid 0"
    res, asks = _self_test(micropython, {"kind": "ballot_box"}, answer, timeout=10)
    assert asks == [f"{b}{i}" for i in range(3) for b in ("beam", "confirm")] + ["lid0"]
    assert res["ok"] is True, res
    # "dip N MS" blocks the entry beam only: the confirm beams fail the test.
    answer = {f"beam{i}": f"dip {i} 60" for i in range(3)}
    answer["lid0"] = "lid 1\nlid 0"
    res, _ = _self_test(micropython, {"kind": "ballot_box"}, answer, 1)
    assert res["fail"] == ["confirm0", "confirm1", "confirm2"]
    res, _ = _self_test(micropython, {"kind": "ballot_box"}, {"lid0": "lid 1\nlid 0"}, 1)
    assert res["fail"] == [f"{b}{i}" for i in range(3) for b in ("beam", "confirm")]


def test_self_test_program_for_the_board_compiles() -> None:
    compile(factory.self_test_program("esp32", "ballot_box", 30), "<board>", "exec")
    assert sys.version_info >= (3, 11)
