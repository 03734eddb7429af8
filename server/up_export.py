"""The provincial export of `hallrate up` (docs/export.md "Demo", README "make demo"): the fake
provincial platform (`hallrate export platform`, the gbt39046 dialect) as the stand-in, a
targets file for it in the data directory, and the worker (`hallrate export run`) pushing the
demo hall's ratings to it. The demo hall gets a 行政区划代码 (the profile requires one)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from server.up_process import free_port, wait_listening

PROFILE = "gbt39046"
DEMO_DIVISION = "371002"  # 环翠区 (威海): the demo hall's 行政区划代码 when it has none
TARGETS_FILE = "export-targets.toml"
TARGET = "demo-province"
POLL_SECONDS = 10
SINCE = "2000-01-01"


def set_division(server_url: str, user: str, password: str, hall: str) -> None:
    """Give the demo hall a 行政区划代码 through the admin API, if it has none."""
    with httpx.Client(base_url=server_url, timeout=10) as http:
        r = http.post("/api/v1/auth/token", json={"username": user, "password": password})
        r.raise_for_status()
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        halls = http.get("/api/v1/halls", headers=auth)
        halls.raise_for_status()
        for row in halls.json():
            if row["code"] == hall and not row["division_code"]:
                http.patch(
                    f"/api/v1/halls/{row['id']}",
                    json={"division_code": DEMO_DIVISION},
                    headers=auth,
                ).raise_for_status()


def targets_toml(base_url: str, hall: str) -> str:
    return "\n".join(
        [
            "# Written by `hallrate up`: the demo hall's ratings to the fake provincial platform.",
            "[[target]]",
            f'name = "{TARGET}"',
            f'profile = "{PROFILE}"',
            f'url = "{base_url}/ratings"',
            f'query_url = "{base_url}/query"',
            f'halls = ["{hall}"]',
            f"since = {SINCE}",
            "",
        ]
    )


def start_export(
    data: Path,
    hall: str,
    env: dict[str, str],
    logs: Path,
    spawn: Callable[[list[str], Path, dict[str, str], Path], subprocess.Popen[bytes]],
) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """Start the platform and the worker; returns the platform's base URL and the processes
    (the caller stops them)."""
    port = free_port()
    hallrate = [sys.executable, "-m", "server.cli", "export"]
    platform = spawn(
        [*hallrate, "platform", "--profile", PROFILE, "--port", str(port)],
        logs / "province-platform.log",
        env,
        data,
    )
    wait_listening(port, platform, "the fake provincial platform", logs)
    base_url = f"http://127.0.0.1:{port}"
    targets = data / TARGETS_FILE
    targets.write_text(targets_toml(base_url, hall), encoding="utf-8")
    worker_env = {
        **env,
        "HALLRATE_EXPORT_TARGETS": str(targets),
        "HALLRATE_EXPORT_POLL_SECONDS": env.get("HALLRATE_EXPORT_POLL_SECONDS", str(POLL_SECONDS)),
    }
    worker = spawn([*hallrate, "run"], logs / "export-worker.log", worker_env, data)
    return base_url, [platform, worker]
