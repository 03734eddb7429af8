"""`hallrate gateway provision`'s TLS part: the hall CA and every certificate, under <out>/tls/.

Layout (docs/provisioning.md, "TLS to the broker"); every file 0600, directories 0700:

    tls/ca.crt ca.key ca.der        the hall CA (kept across runs; replaced only with --new-ca)
    tls/server.crt server.key       the broker's certificate (SANs: host, --tls-host, localhost)
    tls/mosquitto-tls.conf          the TLS listener block for the installed paths
    tls/<hall>/<account>.crt .key   a client certificate per broker account (CN = the account)
    tls/<hall>/<device>@<hall>.der .key.der   the device's copy in DER, what the firmware loads

A certificate still signed by the CA, for the same names and not within certs.RENEW_DAYS of its
end is kept; a revoked account's files are deleted (its password is gone from the broker too).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from gateway.tls import certs
from gateway.tls.certs import CertError

LISTENER_PORT = 8883
INSTALLED = "/etc/mosquitto/certs"  # where the shipped hallrate.conf expects the broker's files


def listener_conf(require_certificate: bool = True) -> str:
    """The TLS listener block of the shipped gateway/mosquitto/hallrate.conf."""
    return (
        "# TLS listener, written by hallrate gateway provision (docs/provisioning.md)\n"
        f"listener {LISTENER_PORT}\n"
        "use_username_as_clientid true\n"
        f"cafile {INSTALLED}/hallrate-ca.crt\n"
        f"certfile {INSTALLED}/hallrate-server.crt\n"
        f"keyfile {INSTALLED}/hallrate-server.key\n"
        f"require_certificate {'true' if require_certificate else 'false'}\n"
        "tls_version tlsv1.2\n"
    )


def server_hosts(broker_host: str, extra: Iterable[str]) -> set[str]:
    return {broker_host, "localhost", "127.0.0.1", *extra}


def ensure(
    out: Path,
    hall: str,
    accounts: list[str],
    devices: list[str],
    revoked: list[str],
    hosts: set[str],
    new_ca: bool = False,
    require_certificate: bool = True,
) -> certs.Issued:
    """Make or keep the CA, the server certificate and one client certificate per account.
    ``devices`` (a subset of ``accounts``) also get DER copies. Raises CertError."""
    done = certs.Issued(new=[], kept=[])
    tls = out / certs.TLS_DIR
    hall_dir = tls / hall
    ca_crt, ca_key = tls / "ca.crt", tls / "ca.key"
    if ca_crt.exists() != ca_key.exists():
        raise CertError(f"{tls}: ca.crt and ca.key must both exist (or neither; see --new-ca)")
    _mkdir_private(tls)
    _mkdir_private(hall_dir)
    if ca_crt.exists() and not new_ca:
        ca, key = certs.load_cert(ca_crt), certs.load_key(ca_key)
        done.kept.append(str(ca_crt))
    else:
        ca, key = certs.make_ca(out.resolve().name)
        _write(ca_key, certs.key_pem(key))
        _write(ca_crt, certs.cert_pem(ca))
        done.new.append(str(ca_crt))
    _write(tls / "ca.der", certs.cert_der(ca))
    _leaf(ca, key, tls / "server", "hallrate broker", hosts, True, done)
    for user in accounts:
        c, k = _leaf(ca, key, hall_dir / user, user, set(), False, done)
        if user in devices:
            _write(hall_dir / f"{user}.der", certs.cert_der(c))
            _write(hall_dir / f"{user}.key.der", certs.key_der(k))
    for user in revoked:
        for ext in (".crt", ".key", ".der", ".key.der"):
            (hall_dir / f"{user}{ext}").unlink(missing_ok=True)
    _write(tls / "mosquitto-tls.conf", listener_conf(require_certificate).encode())
    return done


def _leaf(
    ca: certs.x509.Certificate,
    ca_key: certs.ec.EllipticCurvePrivateKey,
    stem: Path,
    cn: str,
    hosts: set[str],
    server: bool,
    done: certs.Issued,
) -> tuple[certs.x509.Certificate, certs.ec.EllipticCurvePrivateKey]:
    crt, key_path = stem.with_name(stem.name + ".crt"), stem.with_name(stem.name + ".key")
    if crt.exists() and key_path.exists():
        try:
            c, k = certs.load_cert(crt), certs.load_key(key_path)
        except CertError:
            pass  # unreadable: issue a new one
        else:
            if certs.still_good(c, ca, cn, hosts) and c.public_key() == k.public_key():
                done.kept.append(str(crt))
                return c, k
    c, k = certs.issue(ca, ca_key, cn, sorted(hosts), server)
    _write(key_path, certs.key_pem(k))
    _write(crt, certs.cert_pem(c))
    done.new.append(str(crt))
    return c, k


def _mkdir_private(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _write(path: Path, data: bytes) -> None:
    """A 0600 file, written atomically (never readable by others, not even for a moment)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def check(out: Path, new_ca: bool) -> None:
    """Refuse (CertError) before anything is written when an existing CA is unusable."""
    tls = out / certs.TLS_DIR
    ca_crt, ca_key = tls / "ca.crt", tls / "ca.key"
    if new_ca or not (ca_crt.exists() or ca_key.exists()):
        return
    if ca_crt.exists() != ca_key.exists():
        raise CertError(f"{tls}: ca.crt and ca.key must both exist (or neither; see --new-ca)")
    ca, key = certs.load_cert(ca_crt), certs.load_key(ca_key)
    if ca.public_key() != key.public_key():
        raise CertError(f"{ca_key} is not the key of {ca_crt}")
