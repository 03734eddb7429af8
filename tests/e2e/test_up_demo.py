"""`hallrate up` (what `make demo` runs): the whole system on embedded defaults, a simulated hall,
and a score readable over HTTP that keeps changing while the hall works."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.up import current_quarter
from tests.support.ports import free_port
from tests.support.procs import Proc, tool, wait_until


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_up_serves_a_live_changing_score(tmp_path: Path) -> None:
    port, gw_port, mqtt_port = free_port(), free_port(), free_port()
    data = tmp_path / "demo"
    argv = [tool("hallrate"), "up", "--data-dir", str(data), "--duration", "150"]
    argv += ["--port", str(port), "--gateway-port", str(gw_port), "--mqtt-port", str(mqtt_port)]
    argv += ["--windows", "4"]
    up = Proc("up", argv, tmp_path, env={"HALLRATE_MQTT_URL": "", "HALLRATE_DATABASE_URL": ""})
    up.start()
    base = f"http://127.0.0.1:{port}"
    try:
        banner = wait_until(lambda: "hallrate is up" in up.log() and up.log(), timeout=90)
        assert f"{base}/api/v1/scores?hall=DEMO&period={current_quarter()}" in banner
        password = (data / "admin-password").read_text().strip()
        assert f"admin / {password}" in banner

        def token() -> str:
            r = httpx.post(
                f"{base}/api/v1/auth/token", json={"username": "admin", "password": password}
            )
            r.raise_for_status()
            return str(r.json()["access_token"])

        headers = {"Authorization": f"Bearer {wait_until(token, timeout=30)}"}

        def score() -> dict:  # type: ignore[type-arg]
            r = httpx.get(
                f"{base}/api/v1/scores",
                params={"hall": "DEMO", "period": current_quarter()},
                headers=headers,
                timeout=10,
            )
            r.raise_for_status()
            return dict(r.json()["result"])

        first = wait_until(
            lambda: (s := score())["counted_total"] > 0 and s, timeout=90, what="a first score"
        )
        assert first["score"]["percent"] is not None
        changed = wait_until(
            lambda: (s := score())["counted_total"] > first["counted_total"] and s,
            timeout=90,
            what="the score to change",
        )
        assert changed["policy"] == first["policy"]
        assert up.alive(), up.log()
    except Exception:
        print(up.log()[-5000:])
        for log in sorted((data / "logs").glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        up.stop(timeout=30)
