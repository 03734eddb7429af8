"""`hallrate gateway provision`'s TLS part (the hall CA and its certificates) and the gateway's
TLS settings in hall.toml ([broker] url mqtts://, ca_file, cert_file, key_file). No broker: the
TLS connections themselves are tested in tests/firmware/test_tls.py."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from gateway.config import ConfigError, GatewayConfig, from_dict
from gateway.tls import certs
from gateway.tls.provision import listener_conf
from tests.gateway.test_provision import hall_toml, run
from tests.support.procs import REPO


def _cn(c: x509.Certificate) -> str:
    return str(c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _provision(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
    devices: tuple[str, ...] = ("EV-A03",),
) -> tuple[int, str, str, Path]:
    hall = hall_toml(tmp_path, devices=devices)
    out = tmp_path / "accounts"
    rc, stdout, err = run(["provision", "--config", str(hall), "--out", str(out), *extra], capsys)
    return rc, stdout, err, out


def test_provision_writes_the_ca_server_and_client_certificates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, stdout, _, out = _provision(tmp_path, capsys, "--tls-host", "broker.hall.lan")
    assert rc == 0 and "TLS: " in stdout
    tls = out / "tls"
    ca = certs.load_cert(tls / "ca.crt")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    server = certs.load_cert(tls / "server.crt")
    server.verify_directly_issued_by(ca)
    assert certs.cert_hosts(server) == {"127.0.0.1", "localhost", "broker.hall.lan"}
    for user in ("gateway@H1", "queue@H1", "EV-A03@H1"):
        c = certs.load_cert(tls / "H1" / f"{user}.crt")
        c.verify_directly_issued_by(ca)
        assert _cn(c) == user
        assert c.public_key() == certs.load_key(tls / "H1" / f"{user}.key").public_key()
    # the device's DER copies are the same certificate
    der = x509.load_der_x509_certificate((tls / "H1" / "EV-A03@H1.der").read_bytes())
    assert der == certs.load_cert(tls / "H1" / "EV-A03@H1.crt")
    assert (tls / "ca.der").read_bytes() == certs.cert_der(ca)
    assert not (tls / "H1" / "gateway@H1.der").exists()  # DER copies are for devices only
    for p in tls.rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), p
    assert (tls / "mosquitto-tls.conf").read_text() == listener_conf(True)


def test_a_rerun_keeps_the_ca_and_every_certificate_new_ca_replaces_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, _, out = _provision(tmp_path, capsys)
    tls = out / "tls"
    names = ["ca.crt", "ca.key", "server.crt", "H1/EV-A03@H1.crt", "H1/EV-A03@H1.key.der"]
    before = {n: (tls / n).read_bytes() for n in names}
    rc, stdout, _, _ = _provision(tmp_path, capsys)
    assert rc == 0 and "0 certificates new" in stdout
    assert {n: (tls / n).read_bytes() for n in names} == before
    # a new broker name re-issues the server certificate only
    rc, _, _, _ = _provision(tmp_path, capsys, "--tls-host", "10.0.0.2")
    assert (tls / "server.crt").read_bytes() != before["server.crt"]
    assert (tls / "H1/EV-A03@H1.crt").read_bytes() == before["H1/EV-A03@H1.crt"]
    rc, _, _, _ = _provision(tmp_path, capsys, "--new-ca")
    assert rc == 0
    after = {n: (tls / n).read_bytes() for n in names}
    assert all(after[n] != before[n] for n in names)
    certs.load_cert(tls / "H1/EV-A03@H1.crt").verify_directly_issued_by(
        certs.load_cert(tls / "ca.crt")
    )


def test_a_removed_device_loses_its_certificate_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _provision(tmp_path, capsys, devices=("EV-A03", "EV-A04"))
    rc, _, _, out = _provision(tmp_path, capsys, devices=("EV-A03",))
    assert rc == 0
    assert list((out / "tls" / "H1").glob("EV-A04@H1*")) == []
    assert (out / "tls" / "H1" / "EV-A03@H1.der").exists()


def test_an_unusable_ca_is_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, _, out = _provision(tmp_path, capsys)
    (out / "tls" / "ca.key").write_text("not a key\n")
    passwd = (out / "hallrate.passwd").read_bytes()
    rc, _, err, _ = _provision(tmp_path, capsys, devices=("EV-A03", "EV-A09"))
    assert rc == 2 and "ca.key: not an unencrypted PEM private key" in err
    assert (out / "hallrate.passwd").read_bytes() == passwd
    assert not (out / "H1" / "EV-A09@H1.toml").exists()
    # a key of another CA is refused too
    _, other_key = certs.make_ca("other")
    (out / "tls" / "ca.key").write_bytes(certs.key_pem(other_key))
    rc, _, err, _ = _provision(tmp_path, capsys)
    assert rc == 2 and "is not the key of" in err


def test_no_require_cert_writes_a_password_only_listener(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, _, out = _provision(tmp_path, capsys, "--no-require-cert")
    assert "require_certificate false" in (out / "tls" / "mosquitto-tls.conf").read_text()


def test_the_shipped_conf_has_provisions_tls_listener() -> None:
    shipped = (REPO / "gateway/mosquitto/hallrate.conf").read_text().splitlines()
    block = [ln for ln in listener_conf(True).splitlines() if not ln.startswith("#")]
    start = shipped.index(block[0])
    assert shipped[start : start + len(block)] == block


# ---- hall.toml: the gateway's TLS --------------------------------------------------------------


def _cfg(tmp_path: Path, url: str, **broker: str) -> GatewayConfig:
    return from_dict({"hall": "H1", "broker": {"url": url, **broker}}, base_dir=tmp_path)


def test_gateway_tls_settings(tmp_path: Path) -> None:
    from gateway.tls.client import broker_tls

    (tmp_path / "ca.crt").write_text("x")
    (tmp_path / "gw.crt").write_text("x")
    (tmp_path / "gw.key").write_text("x")
    cfg = _cfg(
        tmp_path, "mqtts://broker.lan", ca_file="ca.crt", cert_file="gw.crt", key_file="gw.key"
    )
    assert cfg.broker.tls and cfg.broker.port == 8883
    tls = broker_tls(cfg)
    assert tls is not None and tls.ca_file == tmp_path / "ca.crt"
    assert not _cfg(tmp_path, "mqtt://broker.lan").broker.tls
    assert _cfg(tmp_path, "mqtt://broker.lan").broker.port == 1883
    assert broker_tls(_cfg(tmp_path, "mqtts://broker.lan:9999")) is not None  # system CAs


@pytest.mark.parametrize(
    ("url", "broker", "message"),
    [
        ("mqtts://b", {"ca_file": "missing.crt"}, "[broker] ca_file not found"),
        ("mqtt://b", {"ca_file": "ca.crt"}, "[broker] ca_file needs a TLS broker url"),
        ("mqtts://b", {"cert_file": "ca.crt"}, "cert_file and key_file go together"),
        ("mqtts://b", {"ca_file": ""}, "[broker] ca_file must be a file path"),
        ("ws://b", {}, "broker url must be mqtt://host:port or mqtts://host:port"),
    ],
)
def test_bad_gateway_tls_settings_are_config_errors(
    tmp_path: Path, url: str, broker: dict[str, str], message: str
) -> None:
    (tmp_path / "ca.crt").write_text("x")
    with pytest.raises(ConfigError) as e:
        _cfg(tmp_path, url, **broker)
    assert message in str(e.value)


def test_hallrate_mqtt_url_may_be_mqtts(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("x")
    data = {"hall": "H1", "broker": {"url": "mqtt://plain:1883", "ca_file": "ca.crt"}}
    cfg = from_dict(data, base_dir=tmp_path, env={"HALLRATE_MQTT_URL": "mqtts://gw%40H1:pw@b.lan"})
    assert (cfg.broker.host, cfg.broker.port, cfg.broker.tls) == ("b.lan", 8883, True)
    assert cfg.broker.username == "gw@H1" and cfg.broker.password == "pw"
