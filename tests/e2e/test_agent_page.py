"""The call-back agent's page (/agent/) in headless Chromium, by keyboard alone: sign in, work
through the queue (an 有效 call, a no-answer with a new time, a refusal), then check through the
API what the server stored. Plus: hostile names and comments show as text and never run."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import require_service
from tests.e2e.conftest import GATEWAY_ID, GATEWAY_KEY, HALL, ServerProc
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM

AGENT = ("agent1", "agent-password-1")
TZ = ZoneInfo("Asia/Shanghai")  # the server's HALLRATE_TZ and the browser's zone
DAY = date(2026, 12, 1)
HOSTILE = "<img src=x onerror=window.__pwned=1>"


def _call(server: ServerProc, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{server.url}/api/v1{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        **kw,
    )


def _seed(server: ServerProc, n: int) -> tuple[list[int], list[str]]:
    """n tickets served on DAY with phone numbers (through the ingest route), an agent of H1
    (through the users route), and a daily worklist with one entry per ticket assigned to that
    agent (rows written directly, as a draw would). Returns the entry ids in queue order and the
    phone numbers."""
    from sqlalchemy import select

    from server.db import make_engine, make_sessionmaker
    from server.models import CallbackEntry, CallbackWorklist, Hall, Ticket, User

    phones = [f"1390000{i:04d}" for i in range(1, n + 1)]
    records = [
        {
            "key": f"{HALL}:{DAY}:B{i:03d}",
            "hall": HALL,
            "number": f"B{i:03d}",
            "window": "A01",
            "staff": "S01",
            "matter": "M-100",
            "issued_at": f"{DAY}T09:00:00+08:00",
            "finished_at": f"{DAY}T09:20:00+08:00",
            "phone": phone,
        }
        for i, phone in enumerate(phones, start=1)
    ]
    r = httpx.post(
        f"{server.url}/api/v1/ingest/tickets",
        json={"gateway": GATEWAY_ID, "records": records},
        headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
    )
    r.raise_for_status()
    admin = server.token()
    halls = _call(server, "GET", "/halls", admin).json()
    hall_id = next(h["id"] for h in halls if h["code"] == HALL)
    r = _call(
        server,
        "POST",
        "/users",
        admin,
        json={"username": AGENT[0], "password": AGENT[1], "role": "agent", "hall_id": hall_id},
    )
    assert r.status_code == 201, r.text

    engine = make_engine(server.database_url)
    with make_sessionmaker(engine)() as s:
        hall = s.scalars(select(Hall).where(Hall.code == HALL)).one()
        agent = s.scalars(select(User).where(User.username == AGENT[0])).one()
        tickets = s.scalars(select(Ticket).order_by(Ticket.number)).all()
        due = datetime(2026, 12, 2, 17, 30, tzinfo=TZ).astimezone(UTC)
        worklist = CallbackWorklist(
            hall_id=hall.id,
            key=f"{HALL}:daily:2026-12-02",
            kind="daily",
            label="2026-12-02",
            served_from=DAY,
            served_to=DAY,
            work_day=date(2026, 12, 2),
            due_at=due,
            seed="0" * 32,
            frame="{}",
            frame_sha256="0" * 64,
            policy="{}",
            planned=len(tickets),
            reserves=0,
            created_by="admin",
        )
        s.add(worklist)
        s.flush()
        entries = []
        for position, ticket in enumerate(tickets):
            assert ticket.phone_hash is not None
            entry = CallbackEntry(
                worklist_id=worklist.id,
                hall_id=hall.id,
                ticket_id=ticket.id,
                ticket_day=ticket.local_day,
                reason="dissatisfied" if position == 1 else "served",
                phone_hash=ticket.phone_hash,
                agent_id=agent.id,
                due_at=due,
                position=position,
            )
            s.add(entry)
            entries.append(entry)
        s.commit()
        ids = [e.id for e in entries]
    engine.dispose()
    return ids, phones


def _browser_page(p: Any) -> tuple[Any, Any, list[str]]:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    # en-US: the datetime-local field's parts are month/day/year hour:minute AM/PM.
    page = browser.new_context(locale="en-US", timezone_id="Asia/Shanghai").new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return browser, page, errors


def _sign_in_by_keyboard(page: Any, server: ServerProc) -> None:
    page.goto(server.url + "/agent/")
    assert page.title().startswith("电话回访")
    page.wait_for_function("() => document.activeElement.id === 'username'")
    page.keyboard.type(AGENT[0])
    page.keyboard.press("Tab")
    page.keyboard.type(AGENT[1])
    page.keyboard.press("Enter")
    page.wait_for_selector("#queue li[data-entry]")


def _opened(page: Any, ticket: str) -> None:
    page.wait_for_function(
        "t => document.querySelector('#e-ticket').textContent === t"
        " && !document.querySelector('#entry').hidden",
        arg=ticket,
    )


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_agent_works_the_queue_by_keyboard_alone(server: ServerProc) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    (done_id, retry_id, refused_id), phones = _seed(server, 3)
    retry_at = (datetime.now(TZ) + timedelta(days=20)).replace(
        hour=14, minute=30, second=0, microsecond=0
    )
    posted: list[dict[str, Any]] = []

    with sync_playwright() as p:
        browser, page, errors = _browser_page(p)
        kb = page.keyboard

        # The first submission reaches the server, but its answer is lost on the way back.
        def lose_first_answer(route: Any) -> None:
            posted.append(route.request.post_data_json)
            if len(posted) == 1:
                route.fetch()
                route.abort("failed")
            else:
                route.continue_()

        page.route("**/api/v1/callbacks/entries/*/attempts", lose_first_answer)
        _sign_in_by_keyboard(page, server)
        assert page.locator("#queue li[data-entry]").count() == 3
        assert page.locator(f"#queue li[data-entry='{retry_id}'] .tag").inner_text() == "差评"

        # 1. An 有效 call: open, reveal (p: the number with a tel: link), level 2, 有效, submit.
        kb.press("Enter")
        _opened(page, "B001")
        focus = "getComputedStyle(document.activeElement).outlineStyle"
        assert page.evaluate(focus) == "solid"  # focus is always drawn
        assert page.inner_text("#phone-masked") == "139****0001"
        kb.press("p")
        page.wait_for_selector("#phone-link:not([hidden])")
        assert page.inner_text("#phone-link") == phones[0]
        assert page.get_attribute("#phone-link", "href") == f"tel:{phones[0]}"
        kb.press("2")
        kb.press("d")
        kb.press("Control+Enter")
        page.wait_for_function("() => document.querySelector('#call-error').textContent !== ''")
        kb.press("Control+Enter")  # the retry: the same attempt_key, stored once
        _opened(page, "B002")  # the next entry opens by itself
        assert posted[0]["attempt_key"] == posted[1]["attempt_key"]
        assert posted[1]["level"] == "satisfied" and posted[1]["disposition"] == "completed"

        # 2. No answer, with a new time (s focuses it; Esc leaves it). p twice: one read.
        kb.press("p")
        page.wait_for_selector("#phone-link:not([hidden])")
        kb.press("p")
        kb.press("n")
        kb.press("s")
        kb.type(retry_at.strftime("%m%d%Y"))
        kb.press("ArrowRight")
        kb.type(retry_at.strftime("%H%M"))
        kb.press("Escape")
        kb.press("Control+Enter")
        _opened(page, "B003")

        # 3. A refusal (no reveal), then the queue holds only the later retry.
        kb.press("r")
        kb.press("Control+Enter")
        page.wait_for_selector("#entry", state="hidden")
        assert "拒访" in page.inner_text("#status")
        page.wait_for_function("() => document.querySelectorAll('#queue li').length === 1")
        assert page.get_attribute("#queue li", "data-entry") == str(retry_id)
        assert posted[-1]["attempt_key"] not in {posted[0]["attempt_key"], posted[2]["attempt_key"]}

        # The key table (?), closed by Esc; the language (l) and back.
        kb.press("?")
        page.wait_for_selector("#help:not([hidden])")
        assert "Ctrl+Enter" in page.inner_text("#keymap")
        kb.press("Escape")
        page.wait_for_selector("#help", state="hidden")
        kb.press("l")
        page.wait_for_function("() => document.querySelector('h1').textContent.startsWith('Phone')")
        assert "No answer" in page.inner_text("#keyline")
        kb.press("l")
        page.wait_for_function(
            "() => document.querySelector('h1').textContent.startsWith('电话回访')"
        )
        assert not errors, errors
        browser.close()

    admin = server.token()
    done = _call(server, "GET", f"/callbacks/entries/{done_id}", admin).json()
    assert done["state"] == "completed" and len(done["attempts"]) == 1
    evaluations = server.get("/evaluations", hall=HALL, channel="phone")["items"]
    assert [(e["level"], e["ticket"]) for e in evaluations] == [("satisfied", "B001")]

    retry = _call(server, "GET", f"/callbacks/entries/{retry_id}", admin).json()
    assert retry["state"] == "open" and retry["disposition"] == "no_answer"
    assert datetime.fromisoformat(retry["next_call_at"]) == retry_at

    refused = _call(server, "GET", f"/callbacks/entries/{refused_id}", admin).json()
    assert (refused["state"], refused["disposition"]) == ("closed", "refused")

    reads = server.get("/audit/phone-reads", hall=HALL)["items"]
    assert [(r["username"], r["purpose"]) for r in reads] == [
        (AGENT[0], f"回访 entry {done_id}"),
        (AGENT[0], f"回访 entry {retry_id}"),
    ]


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_hostile_matter_names_and_comments_show_as_text(server: ServerProc) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    (first, _), _ = _seed(server, 2)
    admin = server.token()
    matter = next(m for m in _call(server, "GET", "/matters", admin).json() if m["code"] == "M-100")
    r = _call(server, "PATCH", f"/matters/{matter['id']}", admin, json={"name": HOSTILE})
    assert r.status_code == 200, r.text
    agent = httpx.post(
        f"{server.url}/api/v1/auth/token", json={"username": AGENT[0], "password": AGENT[1]}
    ).json()["access_token"]
    comment = "<script>window.__pwned=2</script>没人接"
    r = _call(
        server,
        "POST",
        f"/callbacks/entries/{first}/attempts",
        agent,
        json={"attempt_key": "xss-1", "disposition": "no_answer", "comment": comment},
    )
    assert r.status_code == 201, r.text

    with sync_playwright() as p:
        browser, page, errors = _browser_page(p)
        _sign_in_by_keyboard(page, server)
        page.locator(f"#queue li[data-entry='{first}']").click()
        _opened(page, "B001")
        assert HOSTILE in page.inner_text("#e-matter")
        assert HOSTILE in page.inner_text("#queue")
        assert comment in page.inner_text("#history tbody")
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("#desk img, #desk script").count() == 0
        assert not errors, errors
        browser.close()


@pytest.mark.e2e
def test_agent_page_assets_are_served_from_the_package(server: ServerProc) -> None:
    """No CDN, no inline script (the CSP forbids it): everything comes from the server."""
    r = httpx.get(server.url + "/agent/")
    assert r.status_code == 200 and '<meta charset="utf-8">' in r.text
    assert "http://" not in r.text and "https://" not in r.text
    assert "<script>" not in r.text and "script-src 'self'" in r.headers["content-security-policy"]
    for asset in ("agent.js", "agent.css"):
        r = httpx.get(f"{server.url}/agent/{asset}")
        assert r.status_code == 200 and len(r.content) > 1000
        assert "http://" not in r.text and "https://" not in r.text
