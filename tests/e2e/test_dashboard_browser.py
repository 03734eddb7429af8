"""The dashboard in headless Chromium: sign in, read the live score, switch to English."""

from __future__ import annotations

import shutil

import httpx
import pytest

from tests.conftest import require_service
from tests.e2e.conftest import ADMIN, GATEWAY_ID, GATEWAY_KEY, HALL, ServerProc

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _ingest(server: ServerProc, records: list[dict]) -> None:  # type: ignore[type-arg]
    r = httpx.post(
        f"{server.url}/api/v1/ingest/evaluations",
        json={"gateway": GATEWAY_ID, "records": records},
        headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
    )
    r.raise_for_status()
    assert not r.json()["rejected"], r.json()


def _record(i: int, channel: str, level: str) -> dict:  # type: ignore[type-arg]
    return {
        "key": f"dash-{i}",
        "rev": 0,
        "channel": channel,
        "level": level,
        "occurred_at": "2026-11-20T10:00:00+08:00",
        "time_source": "device",
        "hall": HALL,
        "window": "A01",
        "ticket": None,
        "staff": None,
        "device": None,
        "matter": None,
        "attribution": "attributed",
        "flags": [],
        "source": GATEWAY_ID,
    }


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_dashboard_shows_the_score_and_follows_new_votes(server: ServerProc) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    # 3 of 4 on-site votes satisfied, and nothing else: the on-site group alone, renormalised.
    _ingest(server, [_record(i, "evaluator", "satisfied") for i in range(3)])
    _ingest(server, [_record(3, "evaluator", "dissatisfied")])

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(server.url + "/")
        assert page.title().startswith("政务服务大厅")
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        page.click("#login button[type=submit]")
        page.fill("#period", "2026Q4")
        page.dispatch_event("#filters", "change")
        page.wait_for_function("() => document.querySelector('#score').textContent === '75.00%'")
        assert "缺少渠道" in page.inner_text("#basis")

        # A new vote arrives: the page refreshes by itself (every 5 s) and shows 3/5.
        _ingest(server, [_record(4, "evaluator", "very_dissatisfied")])
        page.wait_for_function(
            "() => document.querySelector('#score').textContent === '60.00%'", timeout=15000
        )

        page.click("#lang")
        assert page.inner_text("h1") == "Service hall public satisfaction"
        page.wait_for_function(
            "() => document.querySelector('#basis').textContent.includes('missing')"
        )
        browser.close()


@pytest.mark.e2e
def test_dashboard_assets_are_served_from_the_package(server: ServerProc) -> None:
    """No CDN: every asset the page loads comes from the server itself."""
    page = httpx.get(server.url + "/dashboard/").text
    assert "http://" not in page and "https://" not in page
    for asset in ("dashboard.js", "dashboard.css"):
        r = httpx.get(f"{server.url}/dashboard/{asset}")
        assert r.status_code == 200 and len(r.content) > 500
