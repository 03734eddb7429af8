"""`hallrate firmware deploy --device`: one command from hall.toml, provision's output and the
release store to a device's filesystem; --stage-only --board unix boots on the real MicroPython
unix port and shows up online at real Mosquitto over TLS."""

from __future__ import annotations

import functools
import json
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway import cli as gateway_cli
from gateway import firmware_bundle as fb
from gateway import firmware_session as fs
from gateway import firmware_tool
from gateway.firmware_tool import FIRMWARE_DIR
from tests.conftest import require_service
from tests.firmware.conftest import DeviceFactory
from tests.firmware.standin_gateway import StandinGateway
from tests.support.brokers import BrokerTls, Mosquitto, install_for_mosquitto, mosquitto_available
from tests.support.ports import free_port

GW_PASSWORD = "gw-deploy-test-password-012345"
needs_boot_stage = pytest.mark.skipif(
    not (FIRMWARE_DIR / "loader.py").exists(),
    reason="firmware/loader.py (the boot stage, contract section 2) is not in this checkout",
)


@functools.cache
def _unix_payload() -> bytes:
    """The unix port's application bundle, compiled once for this module (mpy-cross over every
    module takes a second or two; the bytes do not depend on the release)."""
    return fb.pack(fb.compile_app("unix"))


def _release(store: Path, key: Ed25519PrivateKey, version: str, boards: tuple[str, ...]) -> None:
    payload = _unix_payload()
    manifest = fb.manifest_text(version, payload, boards=boards)
    d = store / version
    d.mkdir(parents=True)
    (d / "payload.bin").write_bytes(payload)
    (d / "manifest.json").write_text(manifest)
    (d / "manifest.sig").write_text(key.sign(manifest.encode()).hex())


def _hall(tmp_path: Path, broker_port: int = 8883, tls: bool | None = None) -> dict[str, Any]:
    """hall.toml with EV-A05, provisioned accounts and certificates, a release store with 1.0.0
    and 1.1.0 for the unix port (and 9.0.0 for boards only), its public key."""
    key = Ed25519PrivateKey.generate()
    store = tmp_path / "releases"
    _release(store, key, "1.0.0", ("unix",))
    _release(store, key, "1.1.0", ("unix",))
    _release(store, key, "9.0.0", ("esp32", "esp32s3"))
    pub = key.public_key().public_bytes_raw().hex()
    (tmp_path / "release.pub").write_text(pub + "\n")
    deploy = [
        'accounts = "accounts"',
        'broker_host = "127.0.0.1"',
        f"broker_port = {broker_port}",
        'wifi_ssid = "hall-wifi"',
        'wifi_password = "wifi-password-0123"',
    ]
    if tls is not None:
        deploy.append(f"tls = {'true' if tls else 'false'}")
    text = "\n".join(
        [
            'hall = "H1"',
            "[broker]",
            f'password = "{GW_PASSWORD}"',
            "[devices.EV-A05]",
            'kind = "evaluator"',
            'window = "A05"',
            "[firmware]",
            'releases = "releases"',
            'pubkey = "release.pub"',
            "[deploy]",
            *deploy,
        ]
    )
    hall = tmp_path / "hall.toml"
    hall.write_text(text + "\n")
    out = tmp_path / "accounts"
    assert gateway_cli.main(["provision", "--config", str(hall), "--out", str(out)]) == 0
    return {"hall": hall, "out": out, "pub": pub, "store": store}


def _deploy(h: dict[str, Any], *args: str) -> int:
    return firmware_tool.main(["deploy", "--device", "EV-A05", "--config", str(h["hall"]), *args])


@needs_boot_stage
def test_stage_only_lays_out_the_device_filesystem(tmp_path: Path) -> None:
    h = _hall(tmp_path)
    dev = tmp_path / "dev"
    assert _deploy(h, "--stage-only", str(dev), "--board", "unix") == 0
    conf = json.loads((dev / "config.json").read_text())
    password = tomllib.loads((h["out"] / "H1" / "EV-A05@H1.toml").read_text())["broker"]
    assert conf["device"] == "EV-A05" and conf["hall"] == "H1" and conf["kind"] == "evaluator"
    assert conf["board"] == "unix" and conf["root"] == str(dev.resolve())
    assert conf["broker_host"] == "127.0.0.1" and conf["broker_port"] == 8883
    assert conf["broker_user"] == "EV-A05@H1"
    assert conf["broker_password"] == password["password"]
    assert conf["broker_tls"] is True and conf["ota_pubkey"] == h["pub"]
    assert (conf["tls_ca"], conf["tls_cert"], conf["tls_key"]) == (
        "certs/ca.der",
        "certs/client.der",
        "certs/client.key.der",
    )
    assert conf["wifi_ssid"] == "hall-wifi"
    tls = h["out"] / "tls"
    assert (dev / "certs/ca.der").read_bytes() == (tls / "ca.der").read_bytes()
    assert (dev / "certs/client.der").read_bytes() == (tls / "H1/EV-A05@H1.der").read_bytes()
    # the newest release for this board (9.0.0 is for ESP32 boards only), signed, in slot_a
    assert json.loads((dev / "slot_a/manifest.json").read_text())["version"] == "1.1.0"
    assert (dev / "slot_a/manifest.sig").read_text() == (
        h["store"] / "1.1.0/manifest.sig"
    ).read_text()
    assert (dev / "slot_a/app.mpy").exists() and (dev / "slot_a/hal/unix.mpy").exists()
    assert json.loads((dev / "boot.json").read_text())["active"] == "a"
    assert (dev / "main_unix.py").exists() and (dev / "loader.py").exists()
    assert not (dev / "slot_a/loader.mpy").exists()  # the boot stage is never in a slot
    assert os.stat(dev / "certs/client.key.der").st_mode & 0o077 == 0


@needs_boot_stage
def test_release_option_and_board_layout(tmp_path: Path) -> None:
    h = _hall(tmp_path)
    dev = tmp_path / "dev"
    assert _deploy(h, "--stage-only", str(dev), "--board", "unix", "--release", "1.0.0") == 0
    assert json.loads((dev / "slot_a/manifest.json").read_text())["version"] == "1.0.0"
    board = tmp_path / "board"
    assert _deploy(h, "--stage-only", str(board), "--board", "esp32s3") == 0
    assert (board / "main.py").exists() and (board / "loader.mpy").exists()
    assert json.loads((board / "config.json").read_text())["root"] == "/"
    assert json.loads((board / "slot_a/manifest.json").read_text())["version"] == "9.0.0"
    # what --port then runs: one session that copies every file and checks its hash
    [argv] = firmware_tool.deploy_commands(board, "/dev/ttyUSB0")
    steps = fs.steps_of(argv)
    copied = {s[-1] for s in steps if s[:2] == ["fs", "cp"]}
    files = {f":/{p.relative_to(board).as_posix()}" for p in board.rglob("*") if p.is_file()}
    assert copied == files - {":/SHA256SUMS"} and ":/certs/client.key.der" in copied
    assert ":/slot_a/manifest.sig" in copied and ":/loader.mpy" in copied
    clean = steps[1][1]
    assert all(f"'{d}'" in clean for d in ("certs", "slot_a", "slot_a/hal"))
    assert set(fs.read_sums(board)) == {c[2:] for c in copied}
    assert steps[-1] == ["reset"]


def test_refusals_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    h = _hall(tmp_path)
    dev = tmp_path / "dev"
    bad = [
        (["--device", "EV-NOPE"], "not in hall.toml"),
        (["--release", "2.0.0"], "no signed app release 2.0.0"),
    ]
    for args, message in bad:
        argv = ["deploy", "--config", str(h["hall"]), "--stage-only", str(dev), "--board", "unix"]
        argv += args if args[0] == "--device" else ["--device", "EV-A05", *args]
        assert firmware_tool.main(argv) == 2
        assert message in capsys.readouterr().err
        assert not dev.exists()
    # a tampered release is not a release: with both unix releases tampered there is none left
    for v in ("1.0.0", "1.1.0"):
        p = h["store"] / v / "payload.bin"
        blob = bytearray(p.read_bytes())
        blob[-2] ^= 1
        p.write_bytes(bytes(blob))
    assert _deploy(h, "--stage-only", str(dev), "--board", "unix") == 2
    assert "no signed app release for evaluator on unix" in capsys.readouterr().err
    assert not dev.exists()


@needs_boot_stage
def test_short_config_option_and_a_config_without_tls_or_wifi(tmp_path: Path) -> None:
    h = _hall(tmp_path, broker_port=1883, tls=False)
    kept = [x for x in h["hall"].read_text().splitlines() if not x.startswith("wifi_")]
    h["hall"].write_text("\n".join(kept) + "\n")
    dev = tmp_path / "dev"
    argv = ["deploy", "--device", "EV-A05", "-c", str(h["hall"]), "--stage-only", str(dev)]
    assert firmware_tool.main([*argv, "--board", "unix"]) == 0
    conf = json.loads((dev / "config.json").read_text())
    assert conf["broker_tls"] is False and conf["broker_port"] == 1883
    assert not any(k.startswith(("tls_", "wifi_")) for k in conf)
    assert not (dev / "certs").exists()


@pytest.mark.parametrize(
    ("line", "value", "message"),
    [
        ("broker_host", "5", "deploy.broker_host must be a host name"),
        ("broker_host", '""', "deploy.broker_host must be a host name"),
        ("broker_port", '"8883"', "deploy.broker_port must be an integer 1..65535"),
        ("broker_port", "70000", "deploy.broker_port must be an integer 1..65535"),
        ("broker_port", "true", "deploy.broker_port must be an integer 1..65535"),
        ("accounts", "1", "deploy.accounts must be a path"),
        ("wifi_ssid", "42", "deploy.wifi_ssid must be a string"),
        ("wifi_password", "[1]", "deploy.wifi_password must be a string"),
        ("tls", '"yes"', "deploy.tls must be true or false"),
        ("tls_server_name", "1", "deploy.tls_server_name must be a host name"),
        ("board", '"esp8266"', "deploy.board must be one of esp32, esp32s3, unix, got 'esp8266'"),
    ],
)
def test_deploy_keys_are_type_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, value: str, message: str
) -> None:
    h = _hall(tmp_path)
    kept = [x for x in h["hall"].read_text().splitlines() if not x.startswith(f"{line} =")]
    h["hall"].write_text("\n".join([*kept, f"{line} = {value}"]) + "\n")
    dev = tmp_path / "dev"
    capsys.readouterr()
    assert _deploy(h, "--stage-only", str(dev)) == 2
    assert capsys.readouterr().err == f"hallrate firmware deploy: {message}\n"
    assert not dev.exists()


def test_missing_credentials_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = _hall(tmp_path)
    (h["out"] / "H1" / "EV-A05@H1.toml").unlink()
    assert _deploy(h, "--stage-only", str(tmp_path / "dev"), "--board", "unix") == 2
    assert "run hallrate gateway provision" in capsys.readouterr().err


@needs_boot_stage
@pytest.mark.micropython
@pytest.mark.mosquitto
@pytest.mark.timeout(120)
def test_a_staged_unix_device_boots_and_shows_up_online_over_tls(
    tmp_path: Path, make_device: DeviceFactory
) -> None:
    require_service("mosquitto", mosquitto_available(), "apt-get install mosquitto")
    port = free_port()
    h = _hall(tmp_path, broker_port=port)
    out, etc = h["out"], tmp_path / "etc"
    broker = Mosquitto(
        tmp_path / "mq",
        port=port,
        password_file=install_for_mosquitto(out / "hallrate.passwd", etc),
        acl_file=install_for_mosquitto(out / "hallrate.acl", etc),
        tls=BrokerTls(
            install_for_mosquitto(out / "tls/ca.crt", etc),
            install_for_mosquitto(out / "tls/server.crt", etc),
            install_for_mosquitto(out / "tls/server.key", etc),
        ),
    ).start()
    tls = (str(out / "tls/ca.crt"), str(out / "tls/H1/gateway@H1.crt"))
    gw = StandinGateway(
        broker.host,
        broker.port,
        user="gateway@H1",
        password=GW_PASSWORD,
        tls=(*tls, str(out / "tls/H1/gateway@H1.key")),
    )
    try:
        root = tmp_path / "EV-A05"
        assert _deploy(h, "--stage-only", str(root), "--board", "unix") == 0
        conf = json.loads((root / "config.json").read_text())
        conf.update(heartbeat=2, backoff_base_ms=100, backoff_max_ms=1000)
        conf["outbox"] = str(root / "outbox.bin")  # where a deployed device keeps it (root)
        dev = make_device(conf, workdir=tmp_path / "run", firmware_dir=root).start()
        dev.wait_link()
        gw.wait(
            lambda: any(m["k"] == "status" and m.get("st") == "online" for m in gw.other),
            what="EV-A05 online",
        )
        dev.press(2)
        gw.wait(lambda: gw.of_kind("vote"), what="a vote from the deployed device")
        dev.wait_depth(0)
        assert (root / "outbox.bin.d").is_dir()  # the outbox's segments (format 3)
    finally:
        gw.close()
        broker.stop()
