"""Whole-chain fixtures: the server as a separate process, with a bootstrap admin and key."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.migrated import MigratedTemplates
from tests.support.ports import free_port, wait_port
from tests.support.procs import Proc

ADMIN = ("admin", "e2e-admin-password")
HALL = "H1"
GATEWAY_ID = "gw-H1"
GATEWAY_KEY = "e2e-gateway-key-0123456789"


@dataclass
class ServerProc:
    proc: Proc
    url: str
    database_url: str

    def token(self) -> str:
        r = httpx.post(
            f"{self.url}/api/v1/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]}
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def get(self, path: str, **params: str) -> dict:  # type: ignore[type-arg]
        r = httpx.get(
            f"{self.url}/api/v1{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=10,
        )
        r.raise_for_status()
        return dict(r.json())


def start_server(
    tmp: Path,
    database_url: str,
    port: int | None = None,
    templates: MigratedTemplates | None = None,
) -> ServerProc:
    """The server on ``database_url`` (``--migrate``); with ``templates`` an empty SQLite
    database is first made a copy of the session's migrated one (``--migrate`` then has nothing
    to do)."""
    if templates is not None:
        templates.migrate(database_url)
    port = port or free_port()
    env = {
        "HALLRATE_DATA_DIR": str(tmp / "server-data"),
        "HALLRATE_BOOTSTRAP_ADMIN": f"{ADMIN[0]}:{ADMIN[1]}",
        "HALLRATE_BOOTSTRAP_GATEWAY": f"{GATEWAY_ID}:{GATEWAY_KEY}:{HALL}",
        "HALLRATE_BOOTSTRAP_WINDOWS": "A01,A02,A03",  # the windows of the e2e halls
    }
    argv = [sys.executable, "-m", "server.serve", "--port", str(port), "--migrate"]
    argv += ["--database-url", database_url, "--log-level", "warning"]
    proc = Proc(f"server-{port}", argv, tmp, env=env).start()
    try:
        wait_port("127.0.0.1", port, timeout=60)
    except TimeoutError:
        proc.stop()
        raise RuntimeError("server did not start:\n" + proc.log()) from None
    return ServerProc(proc, f"http://127.0.0.1:{port}", database_url)


@pytest.fixture
def server(
    tmp_path: Path, sqlite_url: str, migrated_templates: MigratedTemplates
) -> Iterator[ServerProc]:
    s = start_server(tmp_path, sqlite_url, templates=migrated_templates)
    yield s
    s.proc.stop()
