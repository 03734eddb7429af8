"""`python -m server.serve --migrate` runs a real uvicorn process a gateway can post to."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import evaluation
from tests.support.ports import free_port, wait_port
from tests.support.procs import Proc


@pytest.mark.timeout(60)
def test_serve_migrates_bootstraps_and_ingests(db_url: str, tmp_path: Path) -> None:
    _serve_and_use(db_url, tmp_path, workers=1)


@pytest.mark.timeout(60)
def test_serve_with_two_workers(sqlite_url: str, tmp_path: Path) -> None:
    """Both worker processes bootstrap the same admin and gateway without tripping over it."""
    _serve_and_use(sqlite_url, tmp_path, workers=2)


def _serve_and_use(db_url: str, tmp_path: Path, workers: int) -> None:
    port = free_port()
    env = {
        "HALLRATE_DATA_DIR": str(tmp_path),
        "HALLRATE_BOOTSTRAP_ADMIN": "admin:admin-pass",
        "HALLRATE_BOOTSTRAP_GATEWAY": "gw-h1:k-123456:H1",
        "HALLRATE_BOOTSTRAP_WINDOWS": "A03",  # the window evaluation() names
    }
    argv = [sys.executable, "-m", "server.serve", "--migrate", "--port", str(port)]
    argv += ["--workers", str(workers)]
    proc = Proc("server", [*argv, "--database-url", db_url], tmp_path, env=env).start()
    try:
        wait_port("127.0.0.1", port, timeout=30)
        base = f"http://127.0.0.1:{port}/api/v1"
        wait_until_healthy(base)
        gw = {"Authorization": "Bearer k-123456"}
        for i in range(4):  # spread over the workers
            r = httpx.post(
                f"{base}/ingest/evaluations", json={"records": [evaluation(f"k{i}")]}, headers=gw
            )
            assert r.json()["accepted"] == 1, proc.log()
        token = httpx.post(
            f"{base}/auth/token", json={"username": "admin", "password": "admin-pass"}
        ).json()["access_token"]
        r = httpx.get(
            f"{base}/scores?hall=H1&period=2026Q4", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.json()["result"]["counted_total"] == 4
    finally:
        proc.stop()


def wait_until_healthy(base: str) -> None:
    """The port opens before every worker is ready; poll the health endpoint."""
    for _ in range(200):
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(base)


def test_serve_refuses_placeholder_secret_in_production(tmp_path: Path) -> None:
    from server.serve import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HALLRATE_ENVIRONMENT", "production")
        mp.setenv("HALLRATE_SECRET_KEY", "changethis")
        assert main(["--database-url", f"sqlite:///{tmp_path}/x.db"]) == 2


def test_serve_refuses_a_database_behind_the_migrations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from server.migrate import upgrade
    from server.serve import main

    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(url, "0001")
    assert main(["--database-url", url]) == 2
    out = capsys.readouterr().out
    assert "revision 0001" in out and "hallrate db upgrade" in out


def test_server_help_names_the_command_users_type(capsys: pytest.CaptureFixture[str]) -> None:
    """`hallrate server --help` (docs/api.md) prints the command as typed, not `hallrate serve`."""
    from server.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["server", "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: hallrate server ")
