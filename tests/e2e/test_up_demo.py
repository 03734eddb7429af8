"""`hallrate up` (what `make demo` runs): the whole system on embedded defaults, a simulated hall,
a score readable over HTTP that keeps changing while the hall works, and the publication
schedule writing a finished month's 差评 report into <data dir>/reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

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
    argv += ["--windows", "4", "--reports-every", "5"]
    env = {
        "HALLRATE_MQTT_URL": "",
        "HALLRATE_DATABASE_URL": "",
        "HALLRATE_EXPORT_POLL_SECONDS": "2",
    }
    up = Proc("up", argv, tmp_path, env=env)
    up.start()
    base = f"http://127.0.0.1:{port}"
    try:
        banner = wait_until(lambda: "hallrate is up" in up.log() and up.log(), timeout=90)
        assert f"{base}/api/v1/scores?hall=DEMO&period={current_quarter()}" in banner
        password = (data / "admin-password").read_text().strip()
        assert f"admin / {password}" in banner
        reports = data / "reports"
        assert f"reports 通报         {reports} (every 5 s)" in banner and reports.is_dir()
        # The lobby screen (大屏) URL, with the hall's display key: the page, no login.
        lobby = banner.split("lobby screen 大屏", 1)[1].split()[0]
        assert lobby.startswith(f"{base}/lobby/DEMO?key=")
        screen = httpx.get(lobby, timeout=10)
        assert screen.status_code == 200 and "今日满意度" in screen.text

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
        # A gateway back online delivers a 差评 of last month: the schedule's next turn writes
        # that finished month's 差评 report (checked below, while the hall works on).
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        last_month = today.replace(day=1) - timedelta(days=1)
        vote = {
            "key": "EV-OLD:1:1",
            "channel": "evaluator",
            "level": "dissatisfied",
            "occurred_at": f"{last_month.isoformat()}T10:15:00+08:00",
            "hall": "DEMO",
            "window": "A01",
        }
        key = (data / "gateway-key").read_text().strip()
        r = httpx.post(
            f"{base}/api/v1/ingest/evaluations",
            json={"records": [vote]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        before = score()["counted_total"]  # with last month's vote if it is of this quarter
        changed = wait_until(
            lambda: (s := score())["counted_total"] > before and s,
            timeout=90,
            what="the score to change",
        )
        assert changed["policy"] == first["policy"]
        # One live rating link, signed by the gateway, and its QR code as a PNG in the data dir
        log = wait_until(lambda: "rating link 评价链接" in up.log() and up.log(), timeout=60)
        link = log.split("rating link 评价链接", 1)[1].split()[0]
        png = Path(log.split("its QR code 二维码", 1)[1].split()[0])
        assert link.startswith(f"{base}/r/") and png == data / "rating-link-qr.png"
        assert png.read_bytes().startswith(b"\x89PNG")
        page = httpx.get(link, timeout=10)
        assert page.status_code == 200 and "评价" in page.text  # the rating page (or 已评价)
        # The XLSX comes first (its PDF follows; tests/server/reports make and check PDFs).
        sheet = reports / "DEMO" / f"bad-DEMO-{last_month:%Y-%m}.xlsx"
        wait_until(sheet.is_file, timeout=90, what=str(sheet))
        # The demo hall's ratings reach the fake provincial platform (docs/export.md "Demo").
        province = banner.split("province 省平台", 1)[1].split()[0]
        assert province.startswith("http://127.0.0.1:") and province.endswith("/_sim/records")
        exported = wait_until(
            lambda: [r for r in httpx.get(province, timeout=10).json() if r["live"]],
            timeout=90,
            what="ratings at the provincial platform",
        )
        assert all(r["level"] and r["channel"] for r in exported)
        assert len({r["record_id"] for r in exported}) == len(exported)
        assert up.alive(), up.log()
    except Exception:
        print(up.log()[-5000:])
        for log in sorted((data / "logs").glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        up.stop(timeout=30)
