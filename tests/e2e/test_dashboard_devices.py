"""The dashboard's device panel in headless Chromium: rows from the gateways' health pushes,
alarms and alerts, filters kept in the URL, Chinese first and English on request."""

from __future__ import annotations

import shutil
import time
from typing import Any

import httpx
import pytest

from tests.conftest import require_service
from tests.e2e.conftest import ADMIN, GATEWAY_ID, GATEWAY_KEY, ServerProc
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _snap(device: str, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "device": device,
        "kind": "evaluator",
        "window": "A01",
        "online": True,
        "fw": "0.1.0",
        "slot": "a",
        "outbox": 0,
        "last_seen": time.time() - 5,
        "alarms": [],
    }
    return out | kw


def _push(server: ServerProc, *snaps: dict[str, Any]) -> None:
    r = httpx.post(
        f"{server.url}/api/v1/ingest/devices",
        json={"gateway": GATEWAY_ID, "at": time.time(), "devices": list(snaps)},
        headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
    )
    r.raise_for_status()


def _rows(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "#devices-table tbody tr[data-device]", "rows => rows.map(r => r.dataset.device)"
    )


def test_device_panel_shows_health_alarms_and_filters_from_the_url(server: ServerProc) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    _push(
        server,
        _snap("EV-A01", fw="0.2.0", probation=True, outbox=3, outbox_oldest_s=40),
        _snap("EV-A02", window="A02", online=False, alarms=["offline"]),
        _snap("BB-01", kind="ballot_box", window=None, alarms=["jam", "low_heap"]),
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(server.url + "/dashboard/?dev_alarm=jam")
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        page.click("#login button[type=submit]")
        # The filter came from the URL: only the jammed ballot box.
        page.wait_for_function(
            "() => document.querySelectorAll('#devices-table tbody tr[data-device]').length === 1"
        )
        assert _rows(page) == ["BB-01"]
        assert page.input_value("#dev-alarm") == "jam"
        bb = page.inner_text("#devices-table tr[data-device=BB-01]")
        assert "投票口堵塞" in bb and "内存不足" in bb and "投票箱" in bb

        # Clearing it shows all three; the URL follows the controls.
        page.select_option("#dev-alarm", "")
        page.wait_for_function(
            "() => document.querySelectorAll('#devices-table tbody tr[data-device]').length === 3"
        )
        assert "dev_alarm" not in page.url
        assert _rows(page) == ["BB-01", "EV-A01", "EV-A02"]
        a01 = page.inner_text("#devices-table tr[data-device=EV-A01]")
        assert "0.2.0" in a01 and "试运行" in a01 and "3 (最早 40 s)" in a01 and "在线" in a01
        a02 = page.inner_text("#devices-table tr[data-device=EV-A02]")
        assert "离线" in a02 and "开放时间离线" in a02
        since = page.get_attribute("#devices-table tr[data-device=EV-A02] .alarm", "title")
        assert since and since.startswith("自 ")  # the open alert's first_seen

        page.select_option("#dev-online", "false")
        page.wait_for_function(
            "() => document.querySelectorAll('#devices-table tbody tr[data-device]').length === 1"
        )
        assert _rows(page) == ["EV-A02"] and "dev_online=false" in page.url

        # A reload keeps the filter (it is in the URL); English on request.
        page.reload()
        page.wait_for_function(
            "() => document.querySelectorAll('#devices-table tbody tr[data-device]').length === 1"
        )
        assert page.input_value("#dev-online") == "false"
        page.click("#lang")
        page.wait_for_function(
            "() => document.querySelector('#devices-table tr[data-device=EV-A02]')"
            ".innerText.includes('offline in opening hours')"
        )
        assert page.inner_text("#devices h2") == "Devices (设备)"
        browser.close()
