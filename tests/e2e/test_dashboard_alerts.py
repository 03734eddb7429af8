"""The dashboard's unread-alerts bell in headless Chromium: the count, the list linking to the
case page, a hostile name shown as text, mark read, and the English texts."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from server.alerts.enqueue import case_alert
from server.db import make_engine, make_sessionmaker
from server.models import Staff
from tests.conftest import require_service
from tests.e2e.conftest import ADMIN, ServerProc
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM
from tests.server.alerts.fixtures import NOW, add_case, add_hall, policy

HOSTILE = "<img src=x onerror=window.__pwned=1>"


def _seed(server: ServerProc) -> int:
    engine = make_engine(server.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            h = add_hall(session, "H1")
            h.staff.name = HOSTILE
            case = add_case(session, h)
            case_alert(session, policy(quiet_hours=""), case, "bad_rating", now=NOW)
            session.commit()
            assert session.scalars(select(Staff.name)).first() == HOSTILE
            return case.id
    finally:
        engine.dispose()


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_unread_alerts_badge_list_and_mark_read(server: ServerProc) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    case_id = _seed(server)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/")
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        page.click("#login button[type=submit]")
        page.wait_for_selector("#alerts-count:not([hidden])")
        assert page.inner_text("#alerts-count") == "1"
        assert page.inner_text("#alerts-bell").startswith("提醒")
        page.click("#alerts-bell")
        item = page.locator("#alerts-list li")
        assert item.count() == 1
        link = item.locator("a")
        assert link.get_attribute("href") == f"/cases/{case_id}"
        assert link.inner_text() == f"差评提醒: A03窗口 {HOSTILE} 不满意 (票号 A012)"
        assert page.locator("#alerts img, #alerts script").count() == 0
        assert page.evaluate("typeof window.__pwned") == "undefined"

        page.click("#lang")  # English
        page.wait_for_function(
            "() => document.querySelector('#alerts-list a').textContent.startsWith('Bad rating')"
        )
        assert page.inner_text("#alerts-read-all") == "Mark all read"

        page.click("#alerts-list button.read")
        page.wait_for_selector("#alerts-count", state="hidden")
        assert page.locator("#alerts-list li").count() == 0
        assert page.is_visible("#alerts-none")
        assert server.get("/alerts", unread="1")["unread"] == 0
        assert not errors, errors
        browser.close()
