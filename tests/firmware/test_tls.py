"""TLS to the broker: the real firmware (MicroPython unix port, mbedTLS) and the real gateway
process against real Mosquitto with the shipped conf's TLS listener, and the certificates of
`hallrate gateway provision` (hall CA, broker certificate, per-account client certificates)."""

from __future__ import annotations

import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway import cli
from gateway.tls import certs
from tests.conftest import require_service
from tests.firmware.conftest import DeviceFactory, device_config
from tests.firmware.standin_gateway import StandinGateway
from tests.gateway.conftest import HallServer, gateway_config_dict, push_queue, write_toml
from tests.support.brokers import BrokerTls, Mosquitto, install_for_mosquitto, mosquitto_available
from tests.support.migrated import MigratedTemplates
from tests.support.ports import free_port, wait_port
from tests.support.procs import Proc

pytestmark = [pytest.mark.micropython, pytest.mark.mosquitto, pytest.mark.timeout(120)]

GW_PASSWORD = "gw-tls-test-password-0123456789"


@dataclass
class TlsHall:
    broker: Mosquitto
    out: Path  # provision's --out
    hall_toml: Path
    cfg: dict[str, Any]

    def tls_file(self, name: str) -> str:
        return str(self.out / "tls" / name)

    def password(self, user: str) -> str:
        path = self.out / "H1" / f"{user}.toml"
        pw: str = tomllib.loads(path.read_text())["broker"]["password"]
        return pw

    def device_conf(self, device: str = "EV-A03", **extra: Any) -> dict[str, Any]:
        """A device config as `hallrate firmware deploy` writes it: TLS with its certificate."""
        user = f"{device}@H1"
        conf = device_config(
            self.broker,
            device=device,
            broker_user=user,
            broker_password=self.password(user),
            broker_tls=True,
            tls_ca=self.tls_file("ca.der"),
            tls_cert=self.tls_file(f"H1/{user}.der"),
            tls_key=self.tls_file(f"H1/{user}.key.der"),
        )
        conf.update(extra)
        return {k: v for k, v in conf.items() if v is not None}

    def standin(self) -> StandinGateway:
        tls = (
            self.tls_file("ca.crt"),
            self.tls_file("H1/gateway@H1.crt"),
            self.tls_file("H1/gateway@H1.key"),
        )
        b = self.broker
        return StandinGateway(b.host, b.port, user="gateway@H1", password=GW_PASSWORD, tls=tls)


def _tls_hall(tmp_path: Path, require_certificate: bool = True) -> TlsHall:
    require_service("mosquitto", mosquitto_available(), "apt-get install mosquitto")
    port = free_port()
    cfg = gateway_config_dict(
        tmp_path,
        f"mqtts://127.0.0.1:{port}",
        "http://127.0.0.1:1",
        broker={
            "password": GW_PASSWORD,
            "ca_file": "accounts/tls/ca.crt",
            "cert_file": "accounts/tls/H1/gateway@H1.crt",
            "key_file": "accounts/tls/H1/gateway@H1.key",
        },
    )
    # provision runs before the files exist: its hall.toml is the plain one
    plain = write_toml({**cfg, "broker": {"password": GW_PASSWORD}}, tmp_path / "plain.toml")
    out = tmp_path / "accounts"
    assert cli.main(["provision", "--config", str(plain), "--out", str(out)]) == 0
    etc = tmp_path / "etc"
    tls = BrokerTls(
        install_for_mosquitto(out / "tls" / "ca.crt", etc),
        install_for_mosquitto(out / "tls" / "server.crt", etc),
        install_for_mosquitto(out / "tls" / "server.key", etc),
        require_certificate,
    )
    broker = Mosquitto(
        tmp_path / "mq",
        port=port,
        password_file=install_for_mosquitto(out / "hallrate.passwd", etc),
        acl_file=install_for_mosquitto(out / "hallrate.acl", etc),
        tls=tls,
    ).start()
    return TlsHall(broker, out, write_toml(cfg, tmp_path / "hall.toml"), cfg)


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[TlsHall]:
    h = _tls_hall(tmp_path)
    yield h
    h.broker.stop()


def _refused(dev: Any) -> str:
    fail = dev.wait_event(lambda e: e.get("ev") == "mqtt_fail", what="a refused TLS connect")
    assert dev.status()["connects"] == 0
    return str(fail["err"])


def test_votes_acked_end_to_end_over_tls(hall: TlsHall, make_device: DeviceFactory) -> None:
    gw = hall.standin()
    try:
        dev = make_device(hall.device_conf()).start()
        dev.wait_link()
        for b in (0, 2, 4):
            dev.press(b)
        gw.wait(lambda: len(gw.of_kind("vote")) == 3, what="3 votes over TLS")
        dev.wait_depth(0)  # the stand-in gateway's acks came back over TLS
        assert sorted(v["s"] for v in gw.of_kind("vote")) == [1, 2, 3]
        assert "New client connected" in hall.broker.log()
    finally:
        gw.close()


def test_a_broker_of_another_ca_is_refused(
    hall: TlsHall, make_device: DeviceFactory, tmp_path: Path
) -> None:
    other, _ = certs.make_ca("elsewhere")
    wrong = tmp_path / "other-ca.der"
    wrong.write_bytes(certs.cert_der(other))
    dev = make_device(hall.device_conf(tls_ca=str(wrong))).start()
    assert "not correctly signed by the trusted CA" in _refused(dev)


def test_the_server_name_is_verified(hall: TlsHall, make_device: DeviceFactory) -> None:
    dev = make_device(hall.device_conf(tls_server_name="broker.elsewhere.example")).start()
    assert "does not match with the expected CN" in _refused(dev)


def test_the_client_certificate_is_required(hall: TlsHall, make_device: DeviceFactory) -> None:
    dev = make_device(hall.device_conf(tls_cert=None, tls_key=None)).start()
    _refused(dev)
    assert "peer did not return a certificate" in hall.broker.log()


def test_password_only_when_the_listener_does_not_require_certificates(
    tmp_path: Path, make_device: DeviceFactory
) -> None:
    h = _tls_hall(tmp_path, require_certificate=False)
    try:
        gw = h.standin()
        try:
            dev = make_device(h.device_conf(tls_cert=None, tls_key=None)).start()
            dev.wait_link()
            dev.press(1)
            dev.wait_depth(0)
        finally:
            gw.close()
    finally:
        h.broker.stop()


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_the_gateway_process_over_tls(
    hall: TlsHall, make_device: DeviceFactory, tmp_path: Path, migrated_templates: MigratedTemplates
) -> None:
    srv = HallServer(tmp_path / "server", migrated_templates).start()
    cfg = {**hall.cfg, "server": {**hall.cfg["server"], "url": srv.url}}
    path = write_toml(cfg, hall.hall_toml)
    gw = Proc("gateway", [sys.executable, "-m", "gateway", "--config", str(path)], tmp_path)
    gw.start()
    try:
        port = int(cfg["http"]["port"])
        wait_port("127.0.0.1", port, timeout=30)
        dev = make_device(hall.device_conf()).start()
        dev.wait_event(lambda e: e.get("ev") == "cfg", timeout=30, what="retained cfg over TLS")
        now = int(time.time())
        push_queue(port, [{"id": "q1", "ev": "call", "t": now - 30, "w": "A03", "tk": "A012"}])
        push_queue(port, [{"id": "q2", "ev": "finish", "t": now - 1, "w": "A03", "tk": "A012"}])
        dev.wait_event(lambda e: e.get("screen") == "ask", timeout=30, what="请评价")
        mark = dev.mark()
        dev.press("satisfied")
        dev.wait_event(lambda e: e.get("ev") == "queued", 10, "the vote queued", mark)
        dev.wait_depth(0, timeout=60)  # end-to-end ack: gateway -> server -> gateway -> device
        assert "broker_connected" in gw.log()
    finally:
        gw.stop()
        srv.stop()


def test_broker_tls_without_a_ca_is_refused(hall: TlsHall, make_device: DeviceFactory) -> None:
    dev = make_device(hall.device_conf(tls_ca=None)).start()
    assert "broker_tls needs tls_ca" in _refused(dev)
    assert dev.alive()  # the link keeps retrying; the device keeps queueing votes
    dev.press(1)
    dev.wait_depth(1)


@pytest.mark.timeout(120)
def test_the_gateway_refuses_a_broker_of_another_ca(hall: TlsHall, tmp_path: Path) -> None:
    other, _ = certs.make_ca("elsewhere")
    (tmp_path / "other-ca.crt").write_bytes(certs.cert_pem(other))
    broker = {**hall.cfg["broker"], "ca_file": "other-ca.crt"}
    path = write_toml({**hall.cfg, "broker": broker}, hall.hall_toml)
    gw = Proc("gateway", [sys.executable, "-m", "gateway", "--config", str(path)], tmp_path)
    gw.start()
    try:
        wait_port("127.0.0.1", int(hall.cfg["http"]["port"]), timeout=30)
        deadline = time.monotonic() + 20
        while "broker_connect_failed" not in gw.log():
            assert time.monotonic() < deadline, gw.log()
            time.sleep(0.2)
        assert gw.alive() and "broker_connected" not in gw.log()
        assert "unknown ca" in hall.broker.log()  # the gateway refused the broker's certificate
    finally:
        gw.stop()
