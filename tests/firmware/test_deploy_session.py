"""One mpremote session per device (gateway/firmware_session.py): the exact chain of steps, and
what its programs do to a board's filesystem, run on the real MicroPython unix port: maintenance
flag, stale files removed, hashes read back, the image check (docs/provisioning.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway import firmware_session as fs
from gateway import firmware_tool as ft
from tests.firmware.board_session import play, tree


def _bundle(tmp_path: Path) -> Path:
    b = tmp_path / "bundle"
    (b / "hal").mkdir(parents=True)
    for name, data in {
        "main.py": b"print('main')\n",
        "app.mpy": b"M\x06app",
        "wire.mpy": b"M\x06wire" * 300,
        "hal/esp32.mpy": b"M\x06hal",
        "config.json": json.dumps({"device": "EV-A03", "board": "esp32s3"}).encode(),
    }.items():
        (b / name).write_bytes(data)
    fs.write_sums(b, ft.bundle_files(b))
    return b


def _board(tmp_path: Path) -> Path:
    """A board that ran an older build: its data, credentials, and stale application files."""
    d = tmp_path / "board"
    (d / "certs").mkdir(parents=True)
    (d / "hal").mkdir()
    (d / "old").mkdir()
    for name in (
        "outbox.bin",
        "outbox.bin.cfg",
        "boot.json",
        "fatal.log",
        "certs/ca.der",
        "ota.json",
        "app.py",  # bring-up source: it would shadow app.mpy
        "hal/esp32.py",
        "old/x.mpy",
        "boot.py",
    ):
        (d / name).write_bytes(b"old " + name.encode())
    return d


def test_one_session_with_the_exact_chain_of_steps(tmp_path: Path) -> None:
    b = _bundle(tmp_path)
    [argv] = ft.deploy_commands(b, "/dev/ttyUSB0", "mpremote", image=("1.28.0", "X"))
    assert argv[:3] == ["mpremote", "connect", "/dev/ttyUSB0"]
    steps = fs.steps_of(argv)
    assert [s[0] for s in steps[:3]] == ["exec", "exec", "exec"]
    assert "'1.28.0','X'" in steps[0][1].replace(" ", "")  # the image check comes first
    assert "open('/maint','w')" in steps[1][1] and "WDT(timeout=900000)" in steps[1][1]
    copies = [s for s in steps if s[:2] == ["fs", "cp"]]
    assert [c[3] for c in copies] == [
        ":/app.mpy",
        ":/main.py",
        ":/wire.mpy",
        ":/config.json",
        ":/hal/esp32.mpy",
    ]
    assert copies[0][2] == str(b / "app.mpy")
    assert steps[-3][0] == "exec" and "hashlib" in steps[-3][1]  # verify
    assert "os.remove(R+'/maint')" in steps[-2][1]  # finish: leave maintenance mode
    assert steps[-1] == ["reset"]
    assert len(steps) == 3 + 5 + 3
    # without the image check (--any-image) the session starts with maintenance mode
    [argv2] = ft.deploy_commands(b, "/dev/ttyUSB0", "mpremote")
    assert "maint" in fs.steps_of(argv2)[0][1]


def test_deploy_runs_one_mpremote_process(tmp_path: Path) -> None:
    b = _bundle(tmp_path)
    ran: list[list[str]] = []
    shown: list[str] = []
    assert (
        ft.deploy(
            b,
            "/dev/ttyUSB0",
            "mpremote",
            run=lambda a: ran.append(list(a)) or 0,
            progress=shown.append,
        )
        == 0
    )
    assert ran == ft.deploy_commands(b, "/dev/ttyUSB0", "mpremote") and len(ran) == 1
    assert shown[0] == "mpremote: one session, 10 steps, 5 files" and shown[-1] == "done"
    assert ft.deploy(b, "/dev/ttyUSB0", "mpremote", run=lambda a: 1, progress=shown.append) == 1
    assert shown[-1] == "deploy failed (mpremote exit 1); the board stays in maintenance mode"


def test_the_session_on_a_board_removes_stale_files_and_keeps_the_data(
    tmp_path: Path, micropython: str
) -> None:
    b, board = _bundle(tmp_path), _board(tmp_path)
    argv = fs.session(b, ft.bundle_files(b), "P", root=str(board))
    res = play(argv, board)
    assert res.rc == 0, res.out
    assert tree(board) == {
        # kept: outbox, saved cfg, boot state, fatal log, credentials, a download in progress
        "outbox.bin", "outbox.bin.cfg", "boot.json", "fatal.log", "certs/ca.der", "ota.json",
        # the bundle
        "main.py", "app.mpy", "wire.mpy", "hal/esp32.mpy", "config.json",
    }  # fmt: skip
    assert (board / "outbox.bin").read_bytes() == b"old outbox.bin"
    assert not (board / "old").exists() and not (board / "maint").exists()
    assert "removed app.py" in res.out and "removed hal/esp32.py" in res.out
    assert "verified 5 files" in res.out and "maintenance off" in res.out
    assert res.resets == 1


def test_a_file_damaged_on_the_way_fails_the_deploy_and_leaves_maintenance_on(
    tmp_path: Path, micropython: str
) -> None:
    b, board = _bundle(tmp_path), _board(tmp_path)
    argv = fs.session(b, ft.bundle_files(b), "P", root=str(board))
    res = play(argv, board, corrupt="wire.mpy")
    assert res.rc == 1 and res.ran[-1] == "exec" and res.resets == 0
    assert "the board does not match the bundle: wire.mpy (differs)" in res.out
    assert (board / "maint").exists()  # the next boot stays in maintenance mode
    assert "maintenance off" not in res.out


def test_a_stray_file_fails_the_verification(tmp_path: Path, micropython: str) -> None:
    b, board = _bundle(tmp_path), tmp_path / "board"
    board.mkdir()
    sums = fs.read_sums(b)
    for n in sums:
        (board / n).parent.mkdir(parents=True, exist_ok=True)
        (board / n).write_bytes((b / n).read_bytes())
    (board / "app.py").write_text("x = 1\n")  # appeared after the clean step
    res = play(["mpremote", "connect", "P", "exec", fs.verify(sums, str(board))], board)
    assert res.rc == 1 and "app.py (not in the bundle)" in res.out
    (board / "app.py").unlink()
    (board / "wire.mpy").unlink()
    res = play(["mpremote", "connect", "P", "exec", fs.verify(sums, str(board))], board)
    assert res.rc == 1 and "wire.mpy (missing)" in res.out


def test_the_image_check_on_the_board(tmp_path: Path, micropython: str) -> None:
    """The unix port is MicroPython 1.29.0 with _build 'standard': the program accepts exactly
    that and refuses anything else, naming both."""
    ok = play(["mpremote", "connect", "P", "exec", fs.check_image("1.29.0", "standard")], tmp_path)
    assert ok.rc == 0, ok.out
    bad = play(
        [
            "mpremote",
            "connect",
            "P",
            "exec",
            fs.check_image("1.28.0", "ESP32_GENERIC_S3-SPIRAM_OCT"),
        ],
        tmp_path,
    )
    assert bad.rc == 1
    assert (
        "hallrate deploy: the board runs MicroPython 1.29.0 standard; the pin map pins 1.28.0 "
        "ESP32_GENERIC_S3-SPIRAM_OCT (flash that image, or give --any-image)" in bad.out
    )


def test_pin_maps_pin_the_image() -> None:
    maps = ft.load_pin_maps()
    assert ft.image_of("esp32s3") == ("1.28.0", "ESP32_GENERIC_S3-SPIRAM_OCT")
    assert ft.image_of("esp32") == (maps["esp32"]["micropython"], "ESP32_GENERIC")
    assert ft.image_of("esp32", any_image=True) is None


def test_a_bundle_without_or_against_its_hash_manifest_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    b = _bundle(tmp_path)
    (b / "app.mpy").write_bytes(b"changed after the build")
    with pytest.raises(fs.SessionError, match=r"app\.mpy does not match its hash in the bundle"):
        ft.deploy_commands(b, "P")
    (b / fs.SUMS).unlink()
    assert ft.main(["deploy", "--port", "P", "--bundle", str(b), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "the bundle has no hash manifest; rebuild it (hallrate firmware build)" in err


def test_maintenance_flag_stops_main_py_before_the_config(tmp_path: Path, micropython: str) -> None:
    """firmware/main.py on the unix port, in a directory standing in for the board's "/": with
    the flag it starts nothing (not even the config is read), without it it goes on to boot."""
    import subprocess

    main = Path(ft.FIRMWARE_DIR / "main.py")
    (tmp_path / "maint").write_text("")
    (tmp_path / "config.json").write_text("not json: never read in maintenance")
    p = subprocess.run(
        [micropython, str(main)], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert p.returncode == 0 and p.stdout.strip() == '{"ev": "maintenance", "why": "flag"}'
    (tmp_path / "maint").unlink()
    p = subprocess.run(
        [micropython, str(main)], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert "maintenance" not in p.stdout and "ValueError" in p.stderr + p.stdout  # read it
