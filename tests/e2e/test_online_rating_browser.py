"""The rating link in headless Chromium on a phone-sized screen (docs/online-rating.md): a
finished ticket, its link from POST /api/v1/online/links, a 差评 with a reason and a comment,
已评价, the rating on /api/v1/evaluations and /api/v1/scores; re-opening shows 已评价; forged
and expired links get their refusal page. Then the same through a window's QR page with
JavaScript turned off. Every request stays on the server: no CDN, no other origin."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateway.rating_token import api_key_hash, gateway_link_key, peek, sign
from tests.conftest import require_service
from tests.e2e.conftest import GATEWAY_ID, GATEWAY_KEY, HALL, ServerProc, start_server
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM
from tests.support.migrated import MigratedTemplates
from tests.support.ports import free_port

TZ = ZoneInfo("Asia/Shanghai")
PHONE = {"width": 390, "height": 844}  # a common phone, CSS pixels


@pytest.fixture
def public_server(
    tmp_path: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    migrated_templates: MigratedTemplates,
) -> Iterator[ServerProc]:
    """The server with HALLRATE_PUBLIC_URL set to where it listens (links are absolute)."""
    port = free_port()
    monkeypatch.setenv("HALLRATE_PUBLIC_URL", f"http://127.0.0.1:{port}")
    s = start_server(tmp_path, sqlite_url, port, migrated_templates)
    yield s
    s.proc.stop()


def _finished_ticket(server: ServerProc, number: str) -> str:
    """A ticket finished a minute ago at window A01, reported by the gateway; its local day."""
    finished = datetime.now(UTC) - timedelta(minutes=1)
    day = finished.astimezone(TZ).date().isoformat()
    record = {
        "key": f"{HALL}:{day}:{number}",
        "hall": HALL,
        "number": number,
        "window": "A01",
        "staff": "S01",
        "matter": "M-100",
        "issued_at": (finished - timedelta(minutes=20)).isoformat(),
        "finished_at": finished.isoformat(),
    }
    r = httpx.post(
        f"{server.url}/api/v1/ingest/tickets",
        json={"gateway": GATEWAY_ID, "records": [record]},
        headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
    )
    r.raise_for_status()
    assert r.json()["accepted"] == 1, r.json()
    return day


def _context(p: Any, javascript: bool) -> tuple[Any, Any, list[str], list[str]]:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        java_script_enabled=javascript,
    )
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    return browser, page, errors, requests


def _level_targets_are_big(page: Any) -> None:
    """Five levels, each a full-width target at least 48 px high (one thumb, no zoom)."""
    boxes = [page.locator(f"label.lv-{n}").bounding_box() for n in range(1, 6)]
    for box in boxes:
        assert box["height"] >= 48 and box["width"] >= PHONE["width"] * 0.8, box


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_rating_link_in_a_phone_browser(public_server: ServerProc) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    server = public_server
    admin = {"Authorization": f"Bearer {server.token()}"}
    day = _finished_ticket(server, "E001")
    r = httpx.post(
        f"{server.url}/api/v1/online/links",
        json={"hall": HALL, "ticket": "E001"},
        headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
    )
    assert r.status_code == 200, r.text
    link = r.json()
    assert link["url"] == f"{server.url}/r/{link['token']}"
    png = httpx.get(link["qr_png_url"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")

    with sync_playwright() as p:
        browser, page, errors, requests = _context(p, javascript=True)
        response = page.goto(link["url"])
        assert response.status == 200
        assert page.title() == "服务评价"
        assert "A01" in page.inner_text(".facts") and day in page.inner_text(".facts")
        _level_targets_are_big(page)
        page.locator("label.lv-4").tap()  # 不满意
        page.check("input[name=reasons][value='态度不好']")
        page.fill("textarea[name=comment]", "<b>等了很久</b>")
        page.locator("button[type=submit]").tap()
        page.wait_for_selector("section.done h1")
        assert page.inner_text("section.done h1") == "已评价"
        assert "不满意" in page.inner_text("section.done")
        assert page.url == link["url"]  # the 303 led back to the link

        page.reload()  # re-opening the link
        assert page.inner_text("section.done h1") == "已评价"
        assert page.locator("input[name=step][value=followup]").count() == 1  # 追评 offered

        # A forged link: the signature no longer fits.
        token = link["token"]
        forged = token[:-1] + ("A" if token[-1] != "A" else "B")
        response = page.goto(f"{server.url}/r/{forged}")
        assert response.status == 403 and page.inner_text("h1") == "链接无效"
        # An expired link the gateway signed offline.
        claims = peek(token)
        now = int(datetime.now(UTC).timestamp())
        old = claims.__class__(
            f"g:{GATEWAY_ID}", HALL, claims.ticket_day, "E009", "A01", None, None,
            now - 3 * 86400, now - 60, "exp1",
        )  # fmt: skip
        expired = sign(old, gateway_link_key(api_key_hash(GATEWAY_KEY)))
        response = page.goto(f"{server.url}/r/{expired}")
        assert response.status == 410 and page.inner_text("h1") == "评价已过期"
        assert not errors, errors
        assert all(u.startswith(server.url) for u in requests), requests
        browser.close()

    got = httpx.get(
        f"{server.url}/api/v1/evaluations",
        params={"hall": HALL, "channel": "online"},
        headers=admin,
    ).json()["items"]
    assert [(e["key"], e["level"], e["window"], e["counted"]) for e in got] == [
        (f"online:{day}:E001", "dissatisfied", "A01", True)
    ]
    scores = server.get("/scores", hall=HALL, period=day)["result"]
    assert scores["channels"]["online"]["counts"]["dissatisfied"] == 1
    assert scores["channels"]["online"]["total"] == 1
    reasons = httpx.get(f"{server.url}/api/v1/online/rejections", headers=admin).json()["counts"]
    assert (reasons["bad_signature"], reasons["expired"]) == (1, 1)


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_window_qr_page_with_javascript_off(public_server: ServerProc) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    server = public_server
    day = _finished_ticket(server, "E002")
    with sync_playwright() as p:
        browser, page, errors, requests = _context(p, javascript=False)
        response = page.goto(f"{server.url}/w/{HALL}/A01")
        assert response.status == 200 and page.title() == "窗口评价"
        page.fill("input[name=ticket]", "e002")
        page.locator("form.ticket button").tap()
        page.wait_for_selector("form.rate")
        assert page.url.startswith(f"{server.url}/r/")
        _level_targets_are_big(page)
        page.locator("a.lang").tap()  # the page in English
        assert page.inner_text("label.lv-1") == "Very satisfied"
        page.locator("label.lv-1").tap()
        page.locator("form.rate button").tap()
        page.wait_for_selector("section.done h1")
        assert page.inner_text("section.done h1") == "Rated"
        response = page.goto(f"{server.url}/w/{HALL}/A02")
        assert response.status == 200
        page.fill("input[name=ticket]", "E002")
        page.locator("form.ticket button").tap()
        assert page.inner_text("h1") == "窗口不符"  # served at A01, not A02
        assert not errors, errors
        assert all(u.startswith(server.url) for u in requests), requests
        browser.close()
    got = server.get("/evaluations", hall=HALL, channel="online")["items"]
    assert [(e["key"], e["level"]) for e in got] == [(f"online:{day}:E002", "very_satisfied")]
