"""Gateway test fixtures: the real hallrate server as a process, gateway configs, helpers."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import GatewayConfig, from_dict
from tests.support.migrated import MigratedTemplates
from tests.support.ports import free_port, port_closed, wait_port
from tests.support.procs import Proc

HALL = "H1"
API_KEY = "gw-test-key-0123456789"
QUEUE_TOKEN = "queue-token-0123456789"
DEVICES = {
    "EV-A01": {"kind": "evaluator", "window": "A01"},
    "EV-A02": {"kind": "evaluator", "window": "A02"},
    "EV-A03": {"kind": "evaluator", "window": "A03"},
    "BB-01": {"kind": "ballot_box"},
}


class HallServer:
    """`python -m server.serve` on a free port with its own SQLite database. With ``templates``
    the database starts as a copy of the session's migrated one, so ``--migrate`` finds nothing to
    do (the migrations from an empty database are tested in tests/server and the walking skeleton).
    """

    def __init__(self, workdir: Path, templates: MigratedTemplates | None = None) -> None:
        self.workdir = workdir
        self.templates = templates
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.db_path = workdir / "hallrate.db"
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HallServer:
        if self.templates is not None and not self.db_path.exists():
            self.templates.migrate(f"sqlite:///{self.db_path}")
        env = {
            "HALLRATE_DATA_DIR": str(self.workdir),
            "HALLRATE_BOOTSTRAP_GATEWAY": f"gw-{HALL}:{API_KEY}:{HALL}",
            "HALLRATE_BOOTSTRAP_WINDOWS": "A01,A02,A03",  # the windows of DEVICES
            "HALLRATE_BOOTSTRAP_ADMIN": "admin:admin-password-1",
        }
        argv = [
            sys.executable,
            "-m",
            "server.serve",
            "--port",
            str(self.port),
            "--migrate",
            "--log-level",
            "warning",
        ]
        self.proc = Proc(f"server-{self.port}", argv, self.workdir, env=env).start()
        try:
            wait_port("127.0.0.1", self.port, timeout=60)
        except TimeoutError:
            raise RuntimeError("server did not start:\n" + self.proc.log()) from None
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            port_closed("127.0.0.1", self.port)

    def evaluations(self) -> list[dict[str, Any]]:
        con = sqlite3.connect(self.db_path)
        con.row_factory = sqlite3.Row
        try:
            rows = con.execute(
                "SELECT e.key, e.rev, e.channel, e.level, e.ticket, e.attribution, e.flags,"
                " e.counted, w.code AS window, s.number AS staff FROM evaluations e"
                " LEFT JOIN windows w ON w.id = e.window_id"
                " LEFT JOIN staff s ON s.id = e.staff_id ORDER BY e.key"
            ).fetchall()
            return [dict(r) for r in rows]
        finally:
            con.close()

    def tickets(self) -> list[dict[str, Any]]:
        con = sqlite3.connect(self.db_path)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute("SELECT * FROM tickets ORDER BY number")]
        finally:
            con.close()


@pytest.fixture
def hall_server(tmp_path: Path, migrated_templates: MigratedTemplates) -> Iterator[HallServer]:
    srv = HallServer(tmp_path / "server", migrated_templates).start()
    yield srv
    srv.stop()


def gateway_config(
    tmp_path: Path, broker_url: str, server_url: str, **overrides: Any
) -> GatewayConfig:
    data = gateway_config_dict(tmp_path, broker_url, server_url, **overrides)
    return from_dict(data, base_dir=tmp_path, env={})


def gateway_config_dict(
    tmp_path: Path, broker_url: str, server_url: str, **overrides: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "hall": HALL,
        "windows": ["A01", "A02", "A03"],
        "broker": {"url": broker_url, "client_id": f"gw-test-{free_port()}"},
        "server": {
            "url": server_url,
            "api_key": API_KEY,
            "gateway_id": f"gw-{HALL}",
            "timeout_s": 5,
        },
        "journal": {"path": str(tmp_path / "journal.db")},
        "http": {"port": free_port(), "queue_token": QUEUE_TOKEN},
        "rating": {"request_ttl_s": 60},
        "forward": {"interval_s": 0.2, "backoff_initial_s": 0.2, "backoff_max_s": 1.0},
        "gaps": {"grace_s": 0.5, "resend_interval_s": 1.0, "max_attempts": 2},
        "staff": {"1001": "张三"},
        "devices": DEVICES,
    }
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k] = {**data[k], **v}
        else:
            data[k] = v
    return data


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(v)


def write_toml(data: dict[str, Any], path: Path) -> Path:
    """Enough TOML for a hall.toml: scalars, lists, tables, tables of tables."""
    lines: list[str] = []

    def table(prefix: str, d: dict[str, Any]) -> None:
        subs = {k: v for k, v in d.items() if isinstance(v, dict)}
        for k, v in d.items():
            if not isinstance(v, dict):
                lines.append(f"{json.dumps(k)} = {_toml_value(v)}")
        for k, v in subs.items():
            name = f"{prefix}.{json.dumps(k)}" if prefix else json.dumps(k)
            lines.append(f"\n[{name}]")
            table(name, v)

    table("", data)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def push_queue(port: int, events: list[dict[str, Any]], token: str = QUEUE_TOKEN) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{port}/api/v1/queue/events",
        json={"events": events},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
