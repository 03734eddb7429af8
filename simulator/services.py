"""The chain under test as separate processes: MQTT broker, server and gateway, each startable,
stoppable and killable (kill -9) on fixed ports chosen once, with a generated hall.toml."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from simulator.hall_model import HallSpec

REPO = Path(__file__).resolve().parents[1]
ADMIN = ("sim-admin", "sim-admin-password")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port}") from None
            time.sleep(0.05)


def wait_closed(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.3):
                time.sleep(0.05)
        except OSError:
            return


def py(module_main: str) -> list[str]:
    """argv running ``module:main`` of this repo with this interpreter."""
    mod, fn = module_main.split(":")
    return [
        sys.executable,
        "-c",
        f"import sys; from {mod} import {fn}; sys.exit({fn}(sys.argv[1:]))",
    ]


class Proc:
    """A child process in its own session, output to a log file."""

    def __init__(
        self, name: str, argv: Sequence[str], workdir: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = workdir / f"{name}.log"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=REPO,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        if self.popen is not None and self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen is None or not self.alive():
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""


@dataclass
class HallServices:
    """Broker + server + gateway for one simulated hall."""

    spec: HallSpec
    workdir: Path
    broker_kind: str = "amqtt"  # amqtt | mosquitto | external
    mqtt_url: str | None = None  # external broker (HALLRATE_MQTT_URL); cannot be restarted
    database_url: str | None = None
    serial_port: str | None = None  # the gateway's end of a pty pair
    broker_port: int = field(default_factory=free_port)
    server_port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    queue_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    request_ttl_s: int = 172800
    server_env: dict[str, str] = field(default_factory=dict)  # e.g. the SMS channel's

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database_url = self.database_url or f"sqlite:///{self.workdir / 'hallrate.db'}"
        self.gateway_id = f"gw-{self.spec.hall}"
        self.broker: Proc | None = None
        self.server: Proc | None = None
        self.gateway: Proc | None = None
        self.config_path = self.workdir / "hall.toml"

    # ---- addresses --------------------------------------------------------------------------

    @property
    def broker_host_port(self) -> tuple[str, int]:
        if self.mqtt_url:
            rest = self.mqtt_url.split("://", 1)[-1].rsplit("@", 1)[-1]
            host, _, port = rest.partition(":")
            return host or "127.0.0.1", int(port or 1883)
        return "127.0.0.1", self.broker_port

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    # ---- broker -----------------------------------------------------------------------------

    def start_broker(self) -> None:
        if self.mqtt_url:
            return
        if self.broker_kind == "mosquitto":
            exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
            conf = self.workdir / "mosquitto.conf"
            conf.write_text(
                f"listener {self.broker_port} 127.0.0.1\nallow_anonymous true\n"
                "persistence false\nmax_queued_messages 0\nlog_dest stderr\n"
            )
            argv = [exe, "-c", str(conf)]
        else:
            argv = [
                sys.executable,
                "-m",
                "gateway.embedded_broker",
                "--port",
                str(self.broker_port),
            ]
        self.broker = Proc("broker", argv, self.workdir).start()
        wait_port(self.broker_port, 30)

    def stop_broker(self) -> None:
        if self.broker is not None:
            self.broker.stop()
            wait_closed(self.broker_port)

    # ---- server -----------------------------------------------------------------------------

    def start_server(self) -> None:
        if self.server is None:
            env = {
                "HALLRATE_DATABASE_URL": str(self.database_url),
                "HALLRATE_DATA_DIR": str(self.workdir / "server"),
                "HALLRATE_SECRET_KEY": secrets.token_urlsafe(32),
                "HALLRATE_BOOTSTRAP_ADMIN": f"{ADMIN[0]}:{ADMIN[1]}",
                "HALLRATE_BOOTSTRAP_GATEWAY": f"{self.gateway_id}:{self.api_key}:{self.spec.hall}",
                "HALLRATE_BOOTSTRAP_WINDOWS": ",".join(self.spec.window_codes()),
                "HALLRATE_TZ": self.spec.tz,
                **self.server_env,
            }
            argv = [
                *py("server.serve:main"),
                "--port",
                str(self.server_port),
                "--migrate",
                "--log-level",
                "warning",
            ]
            self.server = Proc("server", argv, self.workdir, env)
        self.server.start()
        self._wait_http(self.server_url + "/api/v1/health", self.server, 60)

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            wait_closed(self.server_port)

    # ---- gateway ----------------------------------------------------------------------------

    def hall_toml(self) -> str:
        s = self.spec
        host, port = self.broker_host_port
        lines = [
            f'hall = "{s.hall}"',
            f"windows = [{', '.join(repr(w).replace(chr(39), chr(34)) for w in s.window_codes())}]",
            "",
            "[broker]",
            f'url = "mqtt://{host}:{port}"',
            f'client_id = "hallrate-gw-{s.hall}"',
            "keepalive = 10",
            "",
            "[server]",
            f'url = "{self.server_url}"',
            f'api_key = "{self.api_key}"',
            f'gateway_id = "{self.gateway_id}"',
            "timeout_s = 10",
            "",
            "[journal]",
            'path = "gateway-journal.db"',
            "",
            "[http]",
            'host = "127.0.0.1"',
            f"port = {self.gateway_port}",
            f'queue_token = "{self.queue_token}"',
            "",
            "[online]",  # rating links signed offline (the online citizens use them)
            "enabled = true",
            f'base_url = "{self.server_url}"',
            "",
            "[rating]",
            # Simulated time runs ahead of or behind the gateway's wall clock: every finish must
            # still count as fresh enough for a rating request.
            f"request_ttl_s = {self.request_ttl_s}",
            "heartbeat_s = 5",
            "",
            "[attribution]",
            "rating_window_s = 120",
            "clock_skew_s = 5",
            "count_no_ticket = false",
            f'tz = "{s.tz}"',
            "",
            "[forward]",
            "batch_size = 500",
            "interval_s = 0.3",
            "backoff_initial_s = 0.2",
            "backoff_max_s = 2",
            "",
            "[gaps]",
            "grace_s = 2",
            "resend_interval_s = 2",
            "max_attempts = 10",
            "",
            "[presence]",
            "offline_s = 60",
            "",
            "[adapters.http]",
            "enabled = true",
            "",
            "[adapters.mqtt]",
            "enabled = true",
        ]
        if self.serial_port:
            lines += [
                "",
                "[[adapters.serial]]",
                f'port = "{self.serial_port}"',
                "baudrate = 115200",
            ]
        for w in s.window_codes():
            lines += ["", f"[devices.{s.evaluator_id(w)}]", 'kind = "evaluator"', f'window = "{w}"']
        for b in s.ballot_ids():
            lines += ["", f"[devices.{b}]", 'kind = "ballot_box"']
        return "\n".join(lines) + "\n"

    def start_gateway(self) -> None:
        if self.gateway is None:
            self.config_path.write_text(self.hall_toml())
            argv = [
                *py("gateway.cli:main"),
                "run",
                "--config",
                str(self.config_path),
                "--log-level",
                "WARNING",
            ]
            host, port = self.broker_host_port
            # The gateway reads these over hall.toml: pin them to this chain.
            env = {
                "HALLRATE_MQTT_URL": self.mqtt_url or f"mqtt://{host}:{port}",
                "HALLRATE_SERVER_URL": self.server_url,
                "HALLRATE_TZ": self.spec.tz,
            }
            self.gateway = Proc("gateway", argv, self.workdir, env)
        self.gateway.start()
        self._wait_http(self.gateway_url + "/health", self.gateway, 60)

    def kill_gateway(self) -> None:
        if self.gateway is not None:
            self.gateway.kill()
            wait_closed(self.gateway_port)

    def gateway_status(self) -> dict[str, Any] | None:
        try:
            r = httpx.get(self.gateway_url + "/status", timeout=5.0)
            r.raise_for_status()
            data: dict[str, Any] = r.json()
            return data
        except (httpx.HTTPError, ValueError):
            return None

    # ---- all --------------------------------------------------------------------------------

    def start_all(self) -> None:
        self.start_broker()
        self.start_server()
        self.start_gateway()

    def start_sms_platform(self) -> str:
        """`hallrate sms platform` on a free port; returns its host:port."""
        port = free_port()
        argv = [*py("server.cli:main"), "sms", "platform", "--port", str(port)]
        self.sms_platform = Proc("sms-platform", argv, self.workdir).start()
        wait_port(port, 30)
        return f"127.0.0.1:{port}"

    def stop_all(self) -> None:
        platform = getattr(self, "sms_platform", None)
        if platform is not None:
            platform.stop()
        for p in (self.gateway, self.server, self.broker):
            if p is not None:
                p.stop()

    @staticmethod
    def _wait_http(url: str, proc: Proc, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
            try:
                if httpx.get(url, timeout=2.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{proc.name} not ready at {url}:\n{proc.tail()}")
