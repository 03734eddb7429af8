"""Real MQTT brokers for tests: Mosquitto with the shipped hall conf, and embedded amqtt."""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from tests.support.ports import free_port, port_closed, wait_port
from tests.support.procs import REPO, Proc

SHIPPED_CONF = REPO / "gateway" / "mosquitto" / "hallrate.conf"
# Lines of the shipped conf that a test instance replaces with its own.
_REPLACED = (
    "listener",
    "persistence_location",
    "password_file",
    "acl_file",
    "allow_anonymous",
    "log_dest",
    "pid_file",
    *("cafile", "certfile", "keyfile", "require_certificate", "tls_version"),
)
# TLS options of the shipped conf's TLS listener, given to a TLS test listener with its own files.
_TLS_OPTIONS = ("tls_version",)
# Options of the shipped conf's listener, kept under the test's listener.
_LISTENER_OPTIONS = ("use_username_as_clientid",)


@dataclass(frozen=True)
class BrokerTls:
    """A TLS test listener's files (PEM; see gateway/tls/certs.py) and require_certificate."""

    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = True


def render_mosquitto_conf(
    port: int,
    data_dir: Path,
    password_file: Path | None = None,
    acl_file: Path | None = None,
    tls: BrokerTls | None = None,
) -> str:
    """The shipped hallrate.conf with the listener, storage and auth of a test instance.

    The shipped conf's listener options follow the test's listener (before any listener they would
    open a default one on 1883). An anonymous instance (no password file) drops
    ``use_username_as_clientid``: with it Mosquitto refuses every client that has no username.
    With ``tls`` the test's one listener is the shipped TLS listener, with the test's files."""
    lines = SHIPPED_CONF.read_text().splitlines()
    listener_opts = list(
        dict.fromkeys(line.strip() for line in lines if line.strip().startswith(_LISTENER_OPTIONS))
    )
    tls_opts = list(
        dict.fromkeys(line.strip() for line in lines if line.strip().startswith(_TLS_OPTIONS))
    )
    keep = [line for line in lines if not line.strip().startswith(_REPLACED + _LISTENER_OPTIONS)]
    keep += [
        f"listener {port} 127.0.0.1",
        *(listener_opts if password_file is not None else []),
    ]
    if tls is not None:
        keep += [
            f"cafile {tls.cafile}",
            f"certfile {tls.certfile}",
            f"keyfile {tls.keyfile}",
            f"require_certificate {'true' if tls.require_certificate else 'false'}",
            *tls_opts,
        ]
    keep += [
        f"persistence_location {data_dir}/",
        "log_dest stderr",
    ]
    if password_file is not None:
        keep += ["allow_anonymous false", f"password_file {password_file}"]
        if acl_file is not None:
            keep.append(f"acl_file {acl_file}")
    else:
        keep.append("allow_anonymous true")
    return "\n".join(keep) + "\n"


class Broker:
    """Common interface of the test brokers: url, host, port, start(), stop(), restart(), kill()."""

    kind = "?"
    host = "127.0.0.1"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Self:
        self.proc = Proc(f"{self.kind}-{self.port}", self.argv(), self.workdir).start()
        try:
            wait_port(self.host, self.port, timeout=20)
        except TimeoutError:
            raise RuntimeError(f"{self.kind} did not start:\n{self.proc.log()}") from None
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            port_closed(self.host, self.port)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            port_closed(self.host, self.port)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.proc.log() if self.proc else ""


class Mosquitto(Broker):
    kind = "mosquitto"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        tls: BrokerTls | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.password_file = password_file
        self.acl_file = acl_file
        self.tls = tls

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def argv(self) -> list[str]:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        _give_to_mosquitto_user(data)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            render_mosquitto_conf(self.port, data, self.password_file, self.acl_file, self.tls)
        )
        return [exe, "-c", str(conf)]


class Amqtt(Broker):
    kind = "amqtt"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "gateway.embedded_broker", "--port", str(self.port)]


def _give_to_mosquitto_user(path: Path) -> None:
    """Mosquitto started as root drops to its own user; it must own its persistence directory."""
    if os.geteuid() != 0:
        return
    try:
        pw = pwd.getpwnam("mosquitto")
    except KeyError:
        return
    os.chown(path, pw.pw_uid, pw.pw_gid)
    # Its parents must be traversable for that user too (pytest's tmp dirs are 0700).
    for parent in path.parents:
        if parent == Path("/"):
            break
        st = parent.stat()
        if not st.st_mode & 0o001:
            os.chmod(parent, st.st_mode | 0o011)


def mosquitto_available() -> bool:
    return bool(shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists())


def install_for_mosquitto(src: Path, dest_dir: Path) -> Path:
    """Copy a secret file (0600) where a Mosquitto that dropped to its own user can read it: the
    test's version of `install -m 0600 -o mosquitto -g mosquitto` (docs/provisioning.md)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    shutil.copyfile(src, dest)
    dest.chmod(0o600)
    _give_to_mosquitto_user(dest_dir)
    _give_to_mosquitto_user(dest)
    return dest
