"""Per-device MQTT credentials from `hallrate gateway provision` on Mosquitto with the shipped conf:
the firmware logs in as <device>@<hall> (not its device id), right password in, wrong one out."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gateway import cli
from tests.conftest import require_service
from tests.firmware.conftest import DeviceFactory, device_config
from tests.firmware.standin_gateway import StandinGateway
from tests.support.brokers import Mosquitto, install_for_mosquitto, mosquitto_available

pytestmark = [pytest.mark.micropython, pytest.mark.mosquitto, pytest.mark.timeout(90)]


def _password(out: Path, user: str) -> str:
    pw: str = tomllib.loads((out / "H1" / f"{user}.toml").read_text())["broker"]["password"]
    return pw


def test_device_account_from_provision(make_device: DeviceFactory, tmp_path: Path) -> None:
    require_service("mosquitto", mosquitto_available(), "apt-get install mosquitto")
    hall = tmp_path / "hall.toml"
    hall.write_text('hall = "H1"\n[devices.EV-A03]\nkind = "evaluator"\nwindow = "A03"\n')
    out = tmp_path / "accounts"
    assert cli.main(["provision", "--config", str(hall), "--out", str(out)]) == 0
    etc = tmp_path / "etc"
    broker = Mosquitto(
        tmp_path / "mq",
        password_file=install_for_mosquitto(out / "hallrate.passwd", etc),
        acl_file=install_for_mosquitto(out / "hallrate.acl", etc),
    ).start()
    gw_pw, dev_pw = _password(out, "gateway@H1"), _password(out, "EV-A03@H1")
    gw = StandinGateway(broker.host, broker.port, user="gateway@H1", password=gw_pw)
    try:
        dev = make_device(
            device_config(broker, broker_user="EV-A03@H1", broker_password=dev_pw)
        ).start()
        dev.wait_link()
        dev.press(1)
        gw.wait(lambda: gw.of_kind("vote"), what="vote through the ACL")
        dev.wait_depth(0)  # the gateway account may write this device's ack

        intruder = make_device(
            device_config(broker, broker_user="EV-A03@H1", broker_password="wrong"),
            tmp_path / "intruder",
        ).start()
        fail = intruder.wait_event(lambda e: e.get("ev") == "mqtt_fail", what="refused login")
        assert "connack refused" in fail["err"]
        assert intruder.status()["connects"] == 0
    finally:
        gw.close()
        broker.stop()
