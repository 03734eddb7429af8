"""The real processes of the ack-promise fuzz test: server, gateway, socat pty pair, devices.

Started once per broker (module-scoped fixture). The gateway runs under an address-space cap
(prlimit) so that a gateway which expands a client's range into a list fails with MemoryError
instead of eating the shared CI machine.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import serial

from tests.support.brokers import Broker
from tests.support.fuzz_device import FuzzDevice, Spy
from tests.support.ports import free_port, port_closed, wait_port
from tests.support.procs import Proc, wait_until

HALL = "H1"
API_KEY = "fuzz-gw-key-0123456789"
QUEUE_TOKEN = "fuzz-queue-token-0123456789"
WINDOWS = ("A01", "A02", "A03")
EVALUATORS = {f"EV-{w}": w for w in WINDOWS}
BALLOT_BOX = "BB-01"
GATEWAY_MEMORY_CAP = 3 * 1024**3  # bytes of address space


def _hall_toml(tmp: Path, broker_url: str, server_url: str, http_port: int, tty: str) -> str:
    devices = "".join(
        f'\n[devices."{d}"]\nkind = "evaluator"\nwindow = "{w}"\n' for d, w in EVALUATORS.items()
    )
    return f"""hall = "{HALL}"
windows = {json.dumps(list(WINDOWS))}

[broker]
url = "{broker_url}"
client_id = "fuzz-gw-{HALL}"

[server]
url = "{server_url}"
api_key = "{API_KEY}"
gateway_id = "gw-{HALL}"
timeout_s = 5

[journal]
path = "{tmp / "journal.db"}"

[http]
port = {http_port}
queue_token = "{QUEUE_TOKEN}"

[rating]
request_ttl_s = 60

[forward]
interval_s = 0.2
backoff_initial_s = 0.2
backoff_max_s = 1.0

[gaps]
grace_s = 0.5
resend_interval_s = 1.0
max_attempts = 2

[staff]
"1001" = "张三"
{devices}
[devices."{BALLOT_BOX}"]
kind = "ballot_box"

[[adapters.serial]]
port = "{tty}"
baudrate = 115200
"""


class Hall:
    """Broker (given) + server + gateway + serial line + fake devices, for one broker."""

    def __init__(self, tmp: Path, broker: Broker) -> None:
        self.tmp = tmp
        self.broker = broker
        self.db_path = tmp / "server" / "hallrate.db"
        self.server_port = free_port()
        self.http_port = free_port()
        self.server: Proc | None = None
        self.gateway: Proc | None = None
        self.socat: subprocess.Popen[bytes] | None = None
        self.devices: dict[str, FuzzDevice] = {}
        self.spy: Spy | None = None
        self.serial_in: list[str] = []
        self._serial: serial.Serial | None = None
        self._serial_stop = threading.Event()

    # ---- start / stop ---------------------------------------------------------------------

    def start(self) -> Hall:
        (self.tmp / "server").mkdir(parents=True, exist_ok=True)
        env = {
            "HALLRATE_DATA_DIR": str(self.tmp / "server"),
            "HALLRATE_BOOTSTRAP_GATEWAY": f"gw-{HALL}:{API_KEY}:{HALL}",
            "HALLRATE_BOOTSTRAP_ADMIN": "admin:admin-password-1",
            "HALLRATE_BOOTSTRAP_WINDOWS": ",".join(WINDOWS),  # no window is auto-created
        }
        argv = [sys.executable, "-m", "server.serve", "--port", str(self.server_port)]
        argv += ["--migrate", "--log-level", "warning", "--database-url", self.db_url]
        self.server = Proc("server", argv, self.tmp, env=env).start()
        wait_port("127.0.0.1", self.server_port, timeout=60)
        self._start_serial()
        tty = str(self.tmp / "ttyGW")
        toml = _hall_toml(
            self.tmp, self.broker.url, f"http://127.0.0.1:{self.server_port}", self.http_port, tty
        )
        (self.tmp / "hall.toml").write_text(toml, encoding="utf-8")
        prlimit = shutil.which("prlimit")
        cap = [prlimit, f"--as={GATEWAY_MEMORY_CAP}", "--"] if prlimit else []
        argv = [*cap, sys.executable, "-m", "gateway", "--config", str(self.tmp / "hall.toml")]
        self.gateway = Proc("gateway", argv, self.tmp)
        self.start_gateway()
        h, p = self.broker.host, self.broker.port
        self.spy = Spy(h, p, HALL)
        for d in [*EVALUATORS, BALLOT_BOX]:
            self.devices[d] = FuzzDevice(h, p, HALL, d)
        wait_until(self.spy.connected.is_set, 20, what="spy connected")
        for dev in self.devices.values():
            wait_until(dev.connected.is_set, 20, what=f"{dev.device} connected")
        return self

    def _start_serial(self) -> None:
        exe = shutil.which("socat")
        if exe is None:
            raise RuntimeError("socat is needed for the serial adapter (apt-get install socat)")
        a, b = self.tmp / "ttyGW", self.tmp / "ttyQS"
        self.socat = subprocess.Popen(
            [exe, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: a.exists() and b.exists(), 10, what="socat ptys")
        self._serial = serial.Serial(str(b), 115200, timeout=0.2)
        self._reader = threading.Thread(target=self._read_serial, daemon=True)
        self._reader.start()

    def _read_serial(self) -> None:
        buf = b""
        while not self._serial_stop.is_set():
            assert self._serial is not None
            try:
                buf += self._serial.read(256)
            except (serial.SerialException, OSError):
                return
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.serial_in.append(line.decode("ascii", "replace").strip())

    def start_gateway(self) -> None:
        assert self.gateway is not None
        self.gateway.start()
        wait_until(self.healthy, 20, what="gateway /health")

    def stop(self) -> None:
        for dev in self.devices.values():
            dev.close()
        if self.spy is not None:
            self.spy.close()
        if self.gateway is not None:
            self.gateway.stop()
        self._serial_stop.set()
        if self._serial is not None:
            self._reader.join(5)
            self._serial.close()
        if self.socat is not None:
            self.socat.terminate()
            self.socat.wait(5)
        if self.server is not None:
            self.server.stop()
            port_closed("127.0.0.1", self.server_port)

    # ---- interfaces -----------------------------------------------------------------------

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.http}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def post_queue(
        self, body: bytes, timeout: float = 15.0, content_type: str = "application/json"
    ) -> httpx.Response | None:
        """POST raw bytes to the queue API; None when no answer came (a hung request)."""
        headers = {"Authorization": f"Bearer {QUEUE_TOKEN}", "Content-Type": content_type}
        try:
            return httpx.post(
                f"{self.http}/api/v1/queue/events", content=body, headers=headers, timeout=timeout
            )
        except httpx.HTTPError:
            return None

    def write_serial(self, data: bytes) -> None:
        assert self._serial is not None
        self._serial.write(data)
        self._serial.flush()

    def evaluations(self) -> dict[str, list[dict[str, Any]]]:
        """key -> every evaluation row with that key (the server's own store, read-only)."""
        if not self.db_path.exists():
            return {}
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        con.row_factory = sqlite3.Row
        try:
            rows = con.execute(
                "SELECT e.key, e.ticket, e.flags, e.counted, w.code AS window FROM evaluations e"
                " LEFT JOIN windows w ON w.id = e.window_id"
            ).fetchall()
        finally:
            con.close()
        out: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            out.setdefault(r["key"], []).append(dict(r))
        return out

    def gateway_peak_rss_mb(self) -> int:
        """VmHWM of the running gateway process (0 when it cannot be read)."""
        try:
            assert self.gateway is not None
            status = Path(f"/proc/{self.gateway.pid}/status").read_text()
        except (AssertionError, OSError):
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        return 0

    def gateway_log_count(self, needle: str) -> int:
        return self.gateway.log().count(needle) if self.gateway else 0

    def quiesce(self, timeout: float = 20.0) -> list[str]:
        """Wait until every device's outbox is empty; return what is still pending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = [f"{d.device}:{d.boot}:{s}" for d in self.devices.values() for s in d.pending()]
            if not left:
                return []
            time.sleep(0.05)
        return left
