"""`hallrate firmware build|deploy`: the bundle, and the mpremote command lines of a deploy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from gateway import firmware_tool as ft

DEV_TOML = """
device = "EV-A03"
hall = "H1"
kind = "evaluator"
board = "esp32"

[wifi]
ssid = "hall-iot"
password = "s3cret"

[broker]
host = "192.168.10.2"
port = 1883
user = "EV-A03"
password = "per-device-pw"

[options]
heartbeat = 60
levels = ["satisfied", "basically_satisfied", "dissatisfied"]
"""


@pytest.fixture
def dev_toml(tmp_path: Path) -> Path:
    p = tmp_path / "dev.toml"
    p.write_text(DEV_TOML)
    return p


@pytest.mark.timeout(120)
def test_build_compiles_everything_and_carries_the_config(dev_toml: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    lines: list[str] = []
    files = ft.build(dev_toml, out, progress=lines.append)
    names = {f.as_posix() for f in files}
    assert {
        "main.py",
        "app.mpy",
        "wire.mpy",
        "outbox.mpy",
        "mqtt_link.mpy",
        "hal/esp32.mpy",
        "pins.mpy",
        "config.json",
    } <= names
    assert not {"main_unix.py", "main_unix.mpy", "hal/unix.mpy", "wire_gw.mpy"} & names
    for f in files:
        if f.suffix == ".mpy":
            assert (out / f).read_bytes()[:1] == b"M"
    conf = json.loads((out / "config.json").read_text())
    assert conf["device"] == "EV-A03" and conf["board"] == "esp32"
    assert conf["broker_host"] == "192.168.10.2" and conf["broker_user"] == "EV-A03"
    assert conf["wifi_ssid"] == "hall-iot" and conf["heartbeat"] == 60
    assert conf["outbox"] == "/outbox.bin"
    assert lines[-1].startswith(f"[{len(files) - 1}/{len(files) - 1}]")


def test_bad_device_config_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('device = "X"\nhall = "H1"\nkind = "toaster"\n')
    with pytest.raises(ValueError, match="kind"):
        ft.load_device_config(p)


def _bundle(tmp_path: Path) -> Path:
    b = tmp_path / "b"
    (b / "hal").mkdir(parents=True)
    for name in (
        "main.py",
        "app.mpy",
        "wire.mpy",
        "hal/esp32.mpy",
        "hal/__init__.mpy",
        "config.json",
    ):
        (b / name).write_bytes(b"x")
    return b


def test_deploy_command_lines(tmp_path: Path) -> None:
    b = _bundle(tmp_path)
    cmds = ft.deploy_commands(b, "/dev/ttyUSB0", mpremote="mpremote")
    assert all(c[:3] == ["mpremote", "connect", "/dev/ttyUSB0"] for c in cmds)
    assert cmds[0][3] == "exec" and "os.mkdir('/hal')" in cmds[0][4]
    copies = [c[3:] for c in cmds if c[3:5] == ["fs", "cp"]]
    assert [c[-1] for c in copies] == [
        ":/app.mpy",
        ":/main.py",
        ":/wire.mpy",
        ":/config.json",
        ":/hal/__init__.mpy",
        ":/hal/esp32.mpy",
    ]
    assert copies[0][2] == str(b / "app.mpy")
    assert cmds[-1][3:] == ["reset"]


def test_deploy_runs_them_in_order_with_progress_and_stops_on_failure(tmp_path: Path) -> None:
    b = _bundle(tmp_path)
    ran: list[list[str]] = []
    shown: list[str] = []

    def fake_run(argv: Sequence[str]) -> int:
        ran.append(list(argv))
        return 0

    assert ft.deploy(b, "/dev/ttyUSB0", "mpremote", run=fake_run, progress=shown.append) == 0
    assert ran == ft.deploy_commands(b, "/dev/ttyUSB0", "mpremote")
    assert shown[0] == f"[1/{len(ran)}] exec" and shown[-1] == "done"
    assert any(s.endswith(":/config.json") for s in shown)

    ran.clear()
    assert (
        ft.deploy(
            b,
            "/dev/ttyUSB0",
            "mpremote",
            run=lambda a: 3 if "fs" in a else 0,
            progress=shown.append,
        )
        == 3
    )


def test_deploy_dry_run_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = _bundle(tmp_path)
    assert ft.main(["deploy", "--port", "/dev/ttyUSB0", "--bundle", str(b), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].endswith("connect /dev/ttyUSB0 reset")
    assert any("fs cp" in line and ":/hal/esp32.mpy" in line for line in out)


@pytest.mark.timeout(120)
def test_build_cli(dev_toml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli-bundle"
    assert ft.main(["build", "--device-config", str(dev_toml), "--out", str(out)]) == 0
    assert (out / "config.json").exists() and (out / "main.py").exists()
    assert "bundle" in capsys.readouterr().out


@pytest.mark.timeout(120)
def test_romfs_bundle_and_its_deploy(dev_toml: Path, tmp_path: Path) -> None:
    out = tmp_path / "rombundle"
    ft.build(dev_toml, out, romfs=True, progress=lambda _s: None)
    assert (out / "rom" / "app.mpy").exists() and (out / "rom" / "hal" / "esp32.mpy").exists()
    assert not (out / "app.mpy").exists()
    assert (out / "romfs.img").read_bytes()[:2] == b"\xd2\xcd"  # the ROMFS magic
    cmds = ft.deploy_commands(out, "/dev/ttyACM0", mpremote="mpremote")
    assert cmds[0] == [
        "mpremote",
        "connect",
        "/dev/ttyACM0",
        "romfs",
        "--no-mpy",
        "deploy",
        str(out / "rom"),
    ]
    assert [c[-1] for c in cmds if c[3:5] == ["fs", "cp"]] == [":/main.py", ":/config.json"]
    assert cmds[-1][3:] == ["reset"]
