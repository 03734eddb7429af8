"""Per-device MQTT credentials with the shipped Mosquitto ACL: right password in, wrong one out."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.firmware.conftest import DeviceFactory, device_config
from tests.firmware.standin_gateway import StandinGateway
from tests.support.brokers import Mosquitto, mosquitto_available
from tests.support.procs import REPO

pytestmark = [pytest.mark.micropython, pytest.mark.mosquitto, pytest.mark.timeout(90)]


def test_device_account_with_the_shipped_acl(make_device: DeviceFactory, tmp_path: Path) -> None:
    require_service("mosquitto", mosquitto_available(), "apt-get install mosquitto")
    pw = tmp_path / "hallrate.passwd"
    pw.touch()
    for user, secret in (("EV-A03", "dev-secret-1"), ("gateway-H1", "gw-secret-1")):
        subprocess.run(["mosquitto_passwd", "-b", str(pw), user, secret], check=True)
    pw.chmod(0o644)
    acl = REPO / "gateway" / "mosquitto" / "hallrate.acl"
    broker = Mosquitto(tmp_path / "mq", password_file=pw, acl_file=acl).start()
    gw = StandinGateway(broker.host, broker.port, user="gateway-H1", password="gw-secret-1")
    try:
        dev = make_device(
            device_config(broker, broker_user="EV-A03", broker_password="dev-secret-1")
        ).start()
        dev.wait_link()
        dev.press(1)
        gw.wait(lambda: gw.of_kind("vote"), what="vote through the ACL")
        dev.wait_depth(0)  # the gateway account may write this device's ack

        intruder = make_device(
            device_config(broker, broker_user="EV-A03", broker_password="wrong"),
            tmp_path / "intruder",
        ).start()
        fail = intruder.wait_event(lambda e: e.get("ev") == "mqtt_fail", what="refused login")
        assert "connack refused" in fail["err"]
        assert intruder.status()["connects"] == 0
    finally:
        gw.close()
        broker.stop()
