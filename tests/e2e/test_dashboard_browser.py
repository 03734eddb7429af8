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


def _sms_texts(server: ServerProc) -> None:
    """Four texts on 2026-11-20 (A01: 2 sent, both replied, 1 with a rating; A02: 1 delivered
    and rated, 1 failed): tickets through the ingest route, texts through the outbox functions."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from server.db import make_engine, make_sessionmaker
    from server.models import SmsReply, Ticket
    from server.sms import outbox
    from server.sms.selection import Candidate

    at = datetime(2026, 11, 20, 17, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    records = [
        {
            "key": f"{HALL}:2026-11-20:A{i:03d}",
            "hall": HALL,
            "number": f"A{i:03d}",
            "window": window,
            "issued_at": "2026-11-20T09:00:00+08:00",
            "finished_at": "2026-11-20T09:20:00+08:00",
            "phone": f"1380000{i:04d}",
        }
        for i, window in enumerate(["A01", "A01", "A02", "A02"])
    ]
    r = httpx.post(
        f"{server.url}/api/v1/ingest/tickets",
        json={"gateway": GATEWAY_ID, "records": records},
        headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
    )
    r.raise_for_status()
    engine = make_engine(server.database_url)
    with make_sessionmaker(engine)() as s:
        tickets = s.scalars(select(Ticket).order_by(Ticket.number)).all()
        due = [
            Candidate(t.id, t.hall_id, HALL, "", t.number, t.window_code, f"x{t.id}",
                      f"hash{t.id}", f"enc{t.id}", t.local_day, at, at)
            for t in tickets
        ]  # fmt: skip
        assert outbox.enqueue(s, due, 1, at) == 4
        ids = [m.id for m in outbox.claim(s, "aliyun", 10, at, outbox.Timing())]
        for mid, path in zip(
            ids, [["sent"], ["sent"], ["sent", "delivered"], ["failed"]], strict=True
        ):
            prev = "sending"
            for state in path:
                assert outbox.set_state(s, mid, state, from_states=(prev,))
                prev = state
        for n, (mid, outcome) in enumerate([(ids[0], "rated"), (ids[1], "not_a_rating"),
                                            (ids[2], "rated")]):  # fmt: skip
            s.add(SmsReply(provider="aliyun", dedupe_key=f"k{n}", phone_hash=f"hash{n}",
                           text="1", received_at=at + timedelta(minutes=5), message_id=mid,
                           outcome=outcome))  # fmt: skip
        s.commit()
    engine.dispose()


def _row(page: object, selector: str) -> list[str]:
    cells = page.eval_on_selector_all(  # type: ignore[attr-defined]
        f"{selector} td", "tds => tds.map(td => td.textContent)"
    )
    return list(cells)


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_dashboard_sms_panel_shows_the_figures_of_the_api(server: ServerProc) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    _sms_texts(server)
    api = server.get("/sms/stats", hall=HALL, period="2026Q4", by="window")
    assert (api["total"]["sent"], api["total"]["reply_rate"]["percent"]) == (3, "100.00")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(server.url + "/")
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        page.click("#login button[type=submit]")
        page.fill("#period", "2026Q4")
        page.dispatch_event("#filters", "change")
        page.click("#nav a[data-nav=channels]")  # the SMS panel is in the 短信与回访 view
        page.wait_for_selector("#sms-windows tr[data-window=A02]")
        assert "#/channels?hall=H1&period=2026Q4" in page.url
        assert page.inner_text("#sms h2") == "短信评价 SMS"
        #                                        sent delivered replied reply-rate valid-rate
        assert _row(page, "#sms-summary tr[data-bucket=period]") == [
            "3", "1", "3", "100.00%", "66.67%"
        ]  # fmt: skip
        assert _row(page, "#sms-windows tr[data-window=A01]") == [
            "A01", "2", "0", "2", "100.00%", "50.00%"
        ]  # fmt: skip
        assert _row(page, "#sms-windows tr[data-window=A02]") == [
            "A02", "1", "1", "1", "100.00%", "100.00%"
        ]  # fmt: skip
        assert page.locator("#sms-summary tr[data-bucket=today]").count() == 1
        page.click("#lang")
        page.wait_for_function(
            "() => document.querySelector('#sms h2').textContent === 'SMS ratings (短信评价)'"
        )
        browser.close()


def _callbacks(server: ServerProc) -> None:
    """H1, work day 2026-11-23: 3 completed (very satisfied, satisfied, dissatisfied), 1 no
    answer, 1 refusal, 1 never called; written as the draw and record_attempt leave them."""
    from datetime import date

    from server.db import make_engine, make_sessionmaker
    from server.personal import PhoneCipher
    from tests.server.callbacks import figures_data as fd

    day = date(2026, 11, 23)
    cipher = PhoneCipher(b"dashboard-test-phone-key-0123456789")
    engine = make_engine(server.database_url)
    with make_sessionmaker(engine)() as s:
        wl = fd.worklist(s, fd.hall(s, HALL), day)
        e = [fd.entry(s, wl, n, cipher) for n in range(1, 7)]
        levels = ["very_satisfied", "satisfied", "dissatisfied"]
        for i, level in enumerate(levels):
            fd.attempt(s, e[i], "wang", "completed", fd.at(day, 9, i), level)
            e[i].state = "completed"
            fd.phone_evaluation(s, HALL, f"callback:{e[i].id}", level, fd.at(day, 9, i))
        fd.attempt(s, e[3], "li", "no_answer", fd.at(day, 10))
        fd.attempt(s, e[4], "li", "refused", fd.at(day, 10, 5))
        e[4].state = "closed"
        s.commit()
    engine.dispose()


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_dashboard_callback_panel_shows_the_figures_of_the_api(server: ServerProc) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    _callbacks(server)
    api = server.get("/callbacks/stats", hall=HALL, period="2026Q4")
    assert api["rates"]["response_rate"]["rate"]["percent"] == "60.00"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(server.url + "/")
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        page.click("#login button[type=submit]")
        page.fill("#period", "2026Q4")
        page.dispatch_event("#filters", "change")
        page.click("#nav a[data-nav=channels]")  # the call-back panel is in the 短信与回访 view
        page.wait_for_selector("#cb-agents tr[data-agent=wang]")
        assert page.inner_text("#callbacks h2") == "电话回访 Phone call-backs"
        #   planned reserves(opened) attempted completed closed open overdue (due 2026: all past)
        assert _row(page, "#cb-summary tr[data-bucket=period]") == [
            "6", "0 (0)", "5", "3", "1", "2", "2"
        ]  # fmt: skip
        assert _row(page, "#cb-rates tr[data-rate=response_rate]") == [
            "60.00%", "3/5", "I / (I + R + NC + O)"
        ]  # fmt: skip
        assert _row(page, "#cb-rates tr[data-rate=refusal_rate]")[:2] == ["20.00%", "1/5"]
        assert _row(page, "#cb-rates tr[data-rate=contact_rate]")[:3] == [
            "80.00%", "4/5", "(I + R + O) / (I + R + NC + O)"
        ]  # fmt: skip
        assert page.inner_text("#cb-rates tr[data-rate=response_rate] th") == "应答率"
        title = page.get_attribute("#cb-rates tr[data-rate=contact_rate]", "title") or ""
        assert title.startswith("(I + R + O) / (I + R + NC + O)") and "拒访" in title
        sat = _row(page, "#cb-rates tr[data-rate=satisfaction]")
        assert sat[:2] == ["66.67%", "2/3"] and "非常满意、满意" in sat[2]
        assert _row(page, "#cb-agents tr[data-agent=wang]")[:3] == ["wang", "3", "3"]
        assert _row(page, "#cb-agents tr[data-agent=li]")[:3] == ["li", "2", "0"]
        page.click("#lang")
        page.wait_for_function(
            "() => document.querySelector('#callbacks h2').textContent"
            " === 'Phone call-backs (电话回访)'"
        )
        page.wait_for_function(
            "() => document.querySelector('#cb-rates tr[data-rate=response_rate] th')"
            ".textContent === 'response rate'"
        )
        browser.close()
