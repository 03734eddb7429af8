"""The dashboard's 案件 view (#/cases) in headless Chromium: the 差评回访率 and 整改率 and each
kind's counts are the numbers GET /api/v1/cases/figures gives; Chinese first, English on request;
readable at 390 px (screenshots at both sizes: tests/e2e/dashboard_pages.py)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import require_service
from tests.e2e.conftest import ADMIN, HALL, ServerProc
from tests.e2e.dashboard_pages import DESKTOP, PHONE, page_scroll_width, shoot
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM
from tests.server.cases import case_rows as cr

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _seed(server: ServerProc) -> None:
    """November 2026 in H1: three 差评, two called back on time and rectified, one open and
    overdue; a complaint closed late; a 办不成事 answered, the citizen 满意."""
    from server.db import make_engine, make_sessionmaker
    from server.models import Hall

    d = date
    engine = make_engine(server.database_url)
    with make_sessionmaker(engine)() as s:
        h1 = s.scalars(select(Hall).where(Hall.code == HALL)).one()
        cr.case(s, h1, "bad_rating", d(2026, 11, 2), closed=d(2026, 11, 10),
                called_back_at=cr.at(d(2026, 11, 3)), rectification="培训")  # fmt: skip
        cr.case(s, h1, "bad_rating", d(2026, 11, 9), state="handling")  # due 11-30: overdue
        cr.case(s, h1, "bad_rating", d(2026, 11, 16), closed=d(2026, 11, 30), extended_days=3,
                called_back_at=cr.at(d(2026, 11, 17)), rectification="优化流程")  # fmt: skip
        cr.case(s, h1, "complaint", d(2026, 11, 4), closed=d(2026, 11, 13))
        cr.case(s, h1, "cannot_do", d(2026, 11, 5), closed=d(2026, 11, 6), feedback="satisfied")
        s.commit()
    engine.dispose()


def _cells(page: Any, kind: str) -> list[str]:
    return page.eval_on_selector_all(
        f"#case-kinds tr[data-kind={kind}] td", "cells => cells.map(c => c.textContent)"
    )


def test_cases_panel_shows_the_api_figures(server: ServerProc, tmp_path: Path) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    _seed(server)
    api = server.get("/cases/figures", hall=HALL, period="2026-11")["total"]
    callback, rectify = api["callback_rate"], api["rectification_rate"]
    assert callback["rate"]["exact"] == "2/3" and rectify["rate"]["exact"] == "2/3"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport=DESKTOP)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/")
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        page.click("#login button[type=submit]")
        page.fill("#period", "2026-11")
        page.dispatch_event("#filters", "change")
        page.click("#nav a[data-nav=cases]")  # the cases panel is in the 案件 view
        page.wait_for_function(
            "() => document.querySelector('#case-rates [data-rate=callback_rate] .score')"
            f"?.textContent === '{callback['rate']['percent']}%'"
        )
        head = "#case-rates [data-rate={}]"
        assert page.inner_text(head.format("rectification_rate") + " .score") == "66.67%"
        assert page.inner_text(head.format("callback_rate") + " .fraction") == "2/3"
        assert (
            page.inner_text(head.format("callback_rate") + " .formula") == callback["formula"]["zh"]
        )
        on_time = api["callback_on_time_rate"]
        assert f"及时回访率 {on_time['rate']['percent']}% (2/3)" == page.inner_text(
            head.format("callback_on_time_rate")
        )
        for kind in ("bad_rating", "complaint", "cannot_do"):
            k = api["kinds"][kind]
            cells = _cells(page, kind)
            counts = [
                k[n] for n in ("opened", "open", "overdue", "extended", "escalated", "closed")
            ]
            assert cells[:6] == [str(n) for n in counts], kind
        bad = _cells(page, "bad_rating")
        assert bad[:7] == ["3", "1", "1", "1", "0", "2", "2 (100.00%)"]
        cannot = _cells(page, "cannot_do")
        assert cannot[7:] == ["1（30 小时）", "100.00% (1/1)"]  # median; 满意率
        assert _cells(page, "complaint")[6] == "0 (0.00%)"  # closed late
        assert page.inner_text("#cases h2") == "案件 Cases"
        assert "#/cases?hall=H1&period=2026-11" in page.url
        assert page.locator("section[data-view=cases]").is_visible()
        shoot(page, tmp_path, "cases-desktop")
        page.set_viewport_size(PHONE)
        assert page_scroll_width(page) <= PHONE["width"]  # the kinds table scrolls in its card
        shoot(page, tmp_path, "cases-phone")

        page.click("#lang")
        page.wait_for_function(
            "() => document.querySelector('#cases h2').textContent === 'Cases (案件)'"
        )
        page.wait_for_function(
            "() => document.querySelector('#case-rates [data-rate=callback_rate] .formula')"
            f".textContent === {callback['formula']['en']!r}"
        )
        assert "bad-rating call-back rate" in page.inner_text("#case-rates")
        assert page.locator("#cases script, #cases img").count() == 0
        assert not errors, errors
        browser.close()
