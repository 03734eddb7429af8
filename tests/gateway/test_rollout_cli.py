"""`hallrate firmware keygen|release|releases|rollout`: what they write, and every refusal as
one line with exit status 2 (docs/updates.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway import firmware_bundle as fb
from gateway.firmware_tool import main
from gateway.journal import Journal
from gateway.ota import signing
from gateway.ota.store import Store
from tests.gateway.conftest import gateway_config_dict, write_toml


@pytest.fixture
def hall(tmp_path: Path) -> Path:
    signing.generate_keypair(tmp_path / "keys")
    cfg = gateway_config_dict(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    cfg["firmware"] = {"releases": "var/releases", "pubkey": "keys/release.pub"}
    return write_toml(cfg, tmp_path / "hall.toml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    rc, _, err = run(capsys, *argv)
    assert rc == 2 and err.count("\n") == 1, err
    return err.strip()


def release(hall: Path, capsys: pytest.CaptureFixture[str], version: str, *more: str) -> Any:
    key = str(hall.parent / "keys/release.key")
    return run(capsys, "release", "--config", str(hall), "--key", key, "--version", version, *more)


def test_keygen_writes_a_key_pair_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(capsys, "keygen", "--out", str(tmp_path / "k"))
    assert rc == 0 and "release.key" in out
    pub = signing.load_public_hex(tmp_path / "k/release.pub")
    key = signing.load_private(tmp_path / "k/release.key")
    assert signing.verify(pub, "text", signing.sign(key, "text"))
    assert (tmp_path / "k/release.key").stat().st_mode & 0o077 == 0
    err = refused(capsys, "keygen", "--out", str(tmp_path / "k"))
    assert err.startswith("hallrate firmware keygen: ")
    assert err.endswith("already exists; refusing to overwrite a release key")


def test_release_compiles_signs_and_stores_then_lists(
    hall: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = release(hall, capsys, "0.2.0", "--target", "unix", "--min", "0.1.0")
    assert rc == 0, err
    d = hall.parent / "var/releases/0.2.0"
    text = (d / "manifest.json").read_text()
    pub = signing.load_public_hex(hall.parent / "keys/release.pub")
    assert signing.verify(pub, text, (d / "manifest.sig").read_text().strip())
    m = fb.parse_manifest(text)
    assert (m["version"], m["type"], m["boards"], m["min"]) == ("0.2.0", "app", ["unix"], "0.1.0")
    files = fb.unpack((d / "payload.bin").read_bytes())
    assert "app.mpy" in files and not set(files) & {"main.py", "main_unix.py", "loader.py"}
    assert f"sha256 {m['sha256']}" in out
    rc, out, _ = run(capsys, "releases", "--config", str(hall))
    assert rc == 0 and out.startswith("0.2.0") and "signature ok" in out
    # A changed byte of the payload: listed as bad, and no roll-out will take it.
    payload = bytearray((d / "payload.bin").read_bytes())
    payload[-2] ^= 1
    (d / "payload.bin").write_bytes(bytes(payload))
    rc, out, _ = run(capsys, "releases", "--config", str(hall), "--json")
    assert json.loads(out)[0]["verified"] is False
    err = refused(capsys, "rollout", "start", "--config", str(hall), "--release", "0.2.0")
    assert err == (
        "hallrate firmware rollout start: release 0.2.0: payload.bin does not match its manifest"
    )


def test_release_refusals(hall: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\xe9" + bytes(5000))
    rc, _, err = release(hall, capsys, "1.0.0", "--image", str(image), "--kinds", "evaluator")
    assert rc == 0, err
    m = json.loads((hall.parent / "var/releases/1.0.0/manifest.json").read_text())
    assert (m["type"], m["kinds"], m["size"]) == ("image", ["evaluator"], 5001)
    rc, _, err = release(hall, capsys, "1.0.0", "--image", str(image))
    assert rc == 2 and "release 1.0.0 exists already" in err and err.count("\n") == 1
    rc, _, err = release(hall, capsys, "1.0", "--image", str(image))
    assert rc == 2 and "version '1.0' is not MAJOR.MINOR.PATCH" in err
    rc, _, err = release(hall, capsys, "1.0.1", "--image", str(image), "--boards", "esp8266")
    assert rc == 2 and "manifest boards must be some of" in err
    other, _ = signing.generate_keypair(tmp_path / "other")
    err = refused(
        capsys,
        "release",
        "--config",
        str(hall),
        "--key",
        str(other),
        "--version",
        "1.0.2",
        "--image",
        str(image),
    )
    assert err.endswith("does not match [firmware].pubkey " + str(hall.parent / "keys/release.pub"))
    assert not (hall.parent / "var/releases/1.0.2").exists()


def test_rollout_command_refusals_and_start(hall: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = hall.parent / "fw.bin"
    image.write_bytes(bytes(3000))
    assert release(hall, capsys, "0.3.0", "--image", str(image))[0] == 0
    assert release(hall, capsys, "0.3.1", "--image", str(image), "--kinds", "evaluator")[0] == 0
    c = ["--config", str(hall)]
    assert refused(capsys, "rollout", "pause", *c) == (
        "hallrate firmware rollout pause: no roll-out to pause"
    )
    assert refused(capsys, "rollout", "start", *c).endswith("start needs --release VERSION")
    assert "no release 9.9.9 in" in refused(capsys, "rollout", "start", *c, "--release", "9.9.9")
    err = refused(capsys, "rollout", "start", *c, "--release", "0.3.0", "--waves", "50,40")
    assert err.endswith("--waves must increase and end at 100, e.g. [10, 50, 100]")
    for opt, value, message in (
        ("--waves", "a", "--waves must be a list of integers"),
        ("--waves", "10,,100", "--waves must be a list of integers"),
        ("--canary", "EV-A01,", "--canary must be a list of device ids"),
        ("--soak-s", "x", "--soak-s must be a number"),
        ("--confirm-timeout-s", "soon", "--confirm-timeout-s must be a number"),
        ("--max-failures", "two", "--max-failures must be an integer"),
        ("--max-per-group", "1.5", "--max-per-group must be an integer"),
        ("--soak-s", "-1", "--soak-s must be >= 0 and --confirm-timeout-s > 0"),
    ):
        err = refused(capsys, "rollout", "start", *c, "--release", "0.3.0", opt, value)
        assert err == f"hallrate firmware rollout start: {message}"
    err = refused(capsys, "rollout", "start", *c, "--release", "0.3.0", "--canary", "EV-Z9")
    assert err.endswith("unknown device EV-Z9")
    err = refused(capsys, "rollout", "start", *c, "--release", "0.3.0", "--max-failures", "0")
    assert err.endswith("must be at least 1")
    err = refused(capsys, "rollout", "start", *c, "--release", "0.3.1", "--devices", "BB-01,EV-A01")
    assert err.endswith("--devices: BB-01 not of a kind release 0.3.1 is for (evaluator)")
    err = refused(capsys, "rollout", "start", *c, "--release", "0.3.0", "--devices", "EV-Z9")
    assert err.endswith("--devices: unknown device EV-Z9")
    rc, out, _ = run(
        capsys, "rollout", "start", *c, "--release", "0.3.0", "--canary", "EV-A02", "--waves", "100"
    )
    assert rc == 0
    assert "canary: EV-A02" in out and "wave 1: BB-01, EV-A01, EV-A03" in out
    err = refused(capsys, "rollout", "start", *c, "--release", "0.3.0")
    assert err.endswith("roll-out 1 of 0.3.0 is running: abort it first")
    rc, out, _ = run(capsys, "rollout", "status", *c)
    assert rc == 0 and out.splitlines()[0] == "roll-out 1 of 0.3.0: running"
    assert out.splitlines()[1] == "at canary; failures 0 of max 1"
    j = Journal(hall.parent / "journal.db")
    try:
        r = Store(j).latest()
        assert r is not None and r.settings.canary == ("EV-A02",) and r.settings.waves == (100,)
    finally:
        j.close()


def test_a_bad_rollout_section_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = gateway_config_dict(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    cfg["rollout"] = {"waves": [10, 50]}
    path = write_toml(cfg, tmp_path / "hall.toml")
    err = refused(capsys, "rollout", "status", "--config", str(path))
    assert err == (
        "hallrate firmware rollout status: rollout.waves must increase and end at 100,"
        " e.g. [10, 50, 100]"
    )


@pytest.mark.parametrize(
    ("section", "table", "message"),
    [
        ("firmware", {"pubkey": ""}, "firmware.pubkey must be a file path, got ''"),
        ("firmware", {"releases": ""}, "firmware.releases must be a directory path, got ''"),
        ("firmware", {"pubkey": 5}, "firmware.pubkey must be a file path, got 5"),
        ("firmware", {"fetch_per_s": 2, "pubky": "k"}, "firmware: unknown key pubky"),
        ("rollout", {"soak": 5}, "rollout: unknown key soak"),
        ("hours", {"days": "all", "tz": "UTC"}, "hours: unknown key tz"),
    ],
)
def test_bad_firmware_rollout_and_hours_keys_are_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    section: str,
    table: dict[str, Any],
    message: str,
) -> None:
    cfg = gateway_config_dict(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    cfg[section] = table
    path = write_toml(cfg, tmp_path / "hall.toml")
    err = refused(capsys, "rollout", "status", "--config", str(path))
    assert err == f"hallrate firmware rollout status: {message}"
