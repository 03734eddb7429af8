"""The dashboard's 短信与回访 view (#/channels) in headless Chromium: the SMS funnel and the
call-back outcome charts carry, as data-value, exactly the numbers of GET /api/v1/sms/stats and
GET /api/v1/callbacks/stats (and the API's percent strings as data-share); desktop and 390 px with
screenshots (tests/e2e/dashboard_pages.py). The tables' figures: test_dashboard_browser.py."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_service
from tests.e2e.conftest import HALL, ServerProc
from tests.e2e.dashboard_pages import DESKTOP, PHONE, page_scroll_width, shoot, sign_in
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM, _callbacks, _sms_texts

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _marks(page: Any, chart: str) -> dict[str, dict[str, str]]:
    """The chart's bars: {data-key: {value, n, share, label}}."""
    marks = page.eval_on_selector_all(
        f"#{chart} svg rect[data-key]",
        "rs => rs.map(r => [r.dataset.key, {value: r.dataset.value, n: r.dataset.n,"
        " share: r.dataset.share ?? null, label: r.dataset.label}])",
    )
    return dict(marks)


def test_channel_charts_carry_the_api_numbers(server: ServerProc, tmp_path: Path) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    _sms_texts(server)
    _callbacks(server)
    sms = server.get("/sms/stats", hall=HALL, period="2026Q4", by="window")["total"]
    cb = server.get("/callbacks/stats", hall=HALL, period="2026Q4")
    assert (sms["sent"], sms["delivered"], sms["replied"], sms["rated"]) == (3, 1, 3, 2)
    assert cb["aapor"] == {"I": 3, "R": 1, "NC": 1, "O": 0, "NE": 0}

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport=DESKTOP)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, server, "#/channels?hall=H1&period=2026Q4")
        page.wait_for_selector("#sms-funnel svg rect[data-key=rated]", state="attached")
        page.wait_for_selector("#cb-outcomes svg rect[data-key=NE]", state="attached")
        assert page.get_attribute("#nav a[data-nav=channels]", "aria-current") == "page"

        funnel = _marks(page, "sms-funnel")
        assert list(funnel) == ["sent", "delivered", "replied", "rated"]
        assert {k: int(m["value"]) for k, m in funnel.items()} == {
            k: sms[k] for k in ("sent", "delivered", "replied", "rated")
        }
        assert funnel["replied"]["share"] == sms["reply_rate"]["percent"]  # "100.00"
        assert funnel["rated"]["share"] == sms["valid_reply_rate"]["percent"]  # "66.67"
        assert funnel["rated"]["n"] == str(sms["sent"]) and funnel["sent"]["share"] is None
        assert [m["label"] for m in funnel.values()] == ["发送", "送达", "回复", "有效回复"]

        outcomes = _marks(page, "cb-outcomes")
        assert list(outcomes) == ["I", "R", "NC", "O", "NE"]
        assert {k: int(m["value"]) for k, m in outcomes.items()} == cb["aapor"]
        rates = cb["rates"]
        assert outcomes["I"]["share"] == rates["response_rate"]["rate"]["percent"]  # "60.00"
        assert outcomes["R"]["share"] == rates["refusal_rate"]["rate"]["percent"]  # "20.00"
        assert outcomes["I"]["n"] == str(rates["response_rate"]["denominator"])

        # Each chart: an image with a name, and its data table.
        for chart in ("sms-funnel", "cb-outcomes"):
            svg = f"#{chart} svg"
            assert page.get_attribute(svg, "role") == "img"
            assert "2026" in (page.get_attribute(svg, "aria-label") or "")
            assert page.locator(f"#{chart} details table tbody tr").count() in (4, 5)
        # The tables are still there, with the same figures.
        assert page.locator("#sms-summary tr[data-bucket=period]").count() == 1
        assert page.locator("#cb-agents tr[data-agent=wang]").count() == 1
        shoot(page, tmp_path, "channels-desktop")

        page.set_viewport_size(PHONE)
        page.reload()
        page.wait_for_selector("#cb-outcomes svg rect[data-key=NE]", state="attached")
        assert page_scroll_width(page) <= PHONE["width"]
        shoot(page, tmp_path, "channels-phone")

        page.click("#lang")
        page.wait_for_function(
            "() => document.querySelector('#sms-funnel rect[data-key=rated]')"
            "?.dataset.label === 'valid replies'"
        )
        assert _marks(page, "cb-outcomes")["I"]["label"] == "completed I"
        assert not errors, errors
        browser.close()
