"""The dashboard's 设备 view (#/devices) in headless Chromium: rows from the gateways' health
pushes, alarms and alerts, the summary line, filters kept in the URL's hash (a former ?dev_alarm=
link moves there), Chinese first and English on request, readable at 390 px (screenshots at both
sizes)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import require_service
from tests.e2e.conftest import ADMIN, GATEWAY_ID, GATEWAY_KEY, ServerProc
from tests.e2e.dashboard_pages import DESKTOP, PHONE, page_scroll_width, shoot, sign_in
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


def _summary(page: Any) -> dict[str, str]:
    return dict(page.eval_on_selector("#dev-summary", "p => ({...p.dataset})"))


def test_device_panel_shows_health_alarms_and_filters_from_the_url(
    server: ServerProc, tmp_path: Path
) -> None:
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
        page = browser.new_page(viewport=DESKTOP)
        # A link of the former dashboard: its filter moves into the devices view's hash.
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
        assert "/dashboard/#/devices?hall=H1&period=" in page.url and "&dev_alarm=jam" in page.url
        assert page.locator("section[data-view=devices]").is_visible()
        # The summary counts the whole hall whatever the filter: 2 of 3 online, 2 with alarms.
        assert _summary(page) == {"online": "2", "total": "3", "alarms": "2", "shown": "1"}
        assert (
            page.inner_text("#dev-summary") == "在线 2 / 共 3 台 · 有告警 2 台（筛选后显示 1 台）"
        )
        bb = page.inner_text("#devices-table tr[data-device=BB-01]")
        assert "投票口堵塞" in bb and "内存不足" in bb and "投票箱" in bb

        # Clearing it shows all three; the URL follows the controls.
        page.select_option("#dev-alarm", "")
        page.wait_for_function(
            "() => document.querySelectorAll('#devices-table tbody tr[data-device]').length === 3"
        )
        assert "dev_alarm" not in page.url
        assert _rows(page) == ["BB-01", "EV-A01", "EV-A02"]
        page.wait_for_function("() => document.querySelector('#dev-summary').dataset.shown === '3'")
        assert page.inner_text("#dev-summary") == "在线 2 / 共 3 台 · 有告警 2 台"
        shoot(page, tmp_path, "devices-desktop")
        page.set_viewport_size(PHONE)
        assert page_scroll_width(page) <= PHONE["width"]  # the wide table scrolls in its card
        shoot(page, tmp_path, "devices-phone")
        page.set_viewport_size(DESKTOP)
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
        page.wait_for_function(
            "() => document.querySelector('#dev-summary').textContent"
            " === '2 online / 3 total · 2 with alarms (1 shown by the filters)'"
        )

        # A deep link in a fresh page opens the devices view with its filter.
        fresh = browser.new_page(viewport=PHONE)
        sign_in(fresh, server, "#/devices?hall=H1&dev_kind=ballot_box")
        fresh.wait_for_function(
            "() => document.querySelectorAll('#devices-table tbody tr[data-device]').length === 1"
        )
        assert _rows(fresh) == ["BB-01"] and fresh.input_value("#dev-kind") == "ballot_box"
        browser.close()
