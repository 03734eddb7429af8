"""`hallrate firmware build|deploy`: the bundle, and the mpremote command lines of a deploy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway import firmware_session as fs
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
    assert set(fs.read_sums(out)) == names  # the hash manifest: every file, checked
    assert not any(n.startswith("board/") for n in names)  # the custom build's, not a bundle's
    assert lines[-1].startswith(f"[{len(files) - 1}/{len(files) - 1}]")


def test_bad_device_config_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('device = "X"\nhall = "H1"\nkind = "toaster"\n')
    with pytest.raises(ValueError, match="kind"):
        ft.load_device_config(p)


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ("jam_ms = 100", "[options] jam_ms = 100: must be a number in 3000..60000"),
        ("readers = 1", "[options] readers = 1: must be true or false"),
        ('ir_margin = "3"', "[options] ir_margin = '3': must be a number in 1..8"),
        ("beam_min_ms = true", "[options] beam_min_ms = True: must be a number in 5..200"),
    ],
)
def test_options_out_of_their_documented_range_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: str, why: str
) -> None:
    p = tmp_path / "BB.toml"
    p.write_text(f'device = "BB-1"\nhall = "H1"\nkind = "ballot_box"\n[options]\n{options}\n')
    with pytest.raises(ValueError) as e:
        ft.load_device_config(p)
    assert why in str(e.value)
    assert ft.main(["build", "--device-config", str(p), "--out", str(tmp_path / "o")]) == 2
    assert why in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing built
    p.write_text('device = "BB-1"\nhall = "H1"\nkind = "ballot_box"\n[options]\njam_ms = 3000\n')
    assert ft.load_device_config(p)["jam_ms"] == 3000  # the bounds themselves are in range


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
    (b / "config.json").write_text('{"board": "esp32"}')
    fs.write_sums(b, ft.bundle_files(b))
    return b


def test_deploy_dry_run_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = _bundle(tmp_path)
    assert ft.main(["deploy", "--port", "/dev/ttyUSB0", "--bundle", str(b), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("mpremote connect") == 1 and out.rstrip().endswith(" + reset")  # one session
    assert "fs cp" in out and ":/hal/esp32.mpy" in out
    assert "ESP32_GENERIC" in out  # the board's image is checked against its pin map
    assert ft.main(["deploy", "--port", "P", "--bundle", str(b), "--dry-run", "--any-image"]) == 0
    assert "ESP32_GENERIC" not in capsys.readouterr().out


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
    assert set(fs.read_sums(out)) == {"main.py", "config.json"}  # rom/ goes whole, not by file
    [argv] = ft.deploy_commands(out, "/dev/ttyACM0", mpremote="mpremote")
    steps = fs.steps_of(argv)
    assert steps[2] == ["romfs", "--no-mpy", "deploy", str(out / "rom")]  # after the clean step
    assert [s[-1] for s in steps if s[:2] == ["fs", "cp"]] == [":/main.py", ":/config.json"]
    assert steps[-1] == ["reset"]
