"""The dashboard's 差评 list (#/bad, docs/dashboard.md "差评 list") in headless Chromium: the
rows are GET /api/v1/bad-ratings for the same filters (ids, order, case state), a deep link with
filters opens filtered, a 差评 with a case shows its number (a link to /cases/<id>), state and
flag as text, paging and the 今日 shortcut move the hash, an empty filter says so; desktop and
390 px (screenshots: tests/e2e/dashboard_pages.py)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from tests.conftest import require_service
from tests.e2e.conftest import HALL, ServerProc
from tests.e2e.dashboard_pages import DESKTOP, PHONE, page_scroll_width, shoot, sign_in
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM, _ingest, _record

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

HOSTILE = "<img src=x onerror=window.__pwned=1>"
# (minute of 2026-11-20 10:xx, channel, level, window, staff, reasons, comment)
RATINGS: list[tuple[int, str, str, str, str | None, list[str], str]] = [
    (1, "evaluator", "dissatisfied", "A01", "1001", ["态度不好"], "等了很久"),
    (2, "evaluator", "very_dissatisfied", "A01", "1002", ["效率低", "不一次告知"], HOSTILE),
    (3, "ballot_box", "dissatisfied", "A02", None, [], ""),
    (4, "evaluator", "satisfied", "A01", "1001", [], ""),  # not a 差评
    (5, "evaluator", "dissatisfied", "A02", "1002", ["态度不好"], ""),
    (6, "ballot_box", "very_dissatisfied", "A01", None, [], "箱子"),
    (7, "evaluator", "dissatisfied", "A01", "1001", [], ""),
]


def _seed(server: ServerProc) -> dict[int, int]:
    """The ratings above (each 差评 opens its bad_rating case as it counts); then, as the case
    engine would leave them, no flag but the case of minute 2 handling and red, minute 5's
    escalated, minute 6's yellow, and minute 7's 差评 without a case (as rated before cases were
    opened). Returns
    {minute: evaluation id}."""
    records = []
    for minute, channel, level, window, staff, reasons, comment in RATINGS:
        r = _record(minute, channel, level)
        r |= {"occurred_at": f"2026-11-20T10:{minute:02d}:00+08:00", "window": window}
        r |= {"staff": staff, "reasons": reasons, "comment": comment or None}
        records.append(r)
    _ingest(server, records)

    from server.db import make_engine, make_sessionmaker
    from server.models import Evaluation
    from server.models.cases import Alert, Case, CaseEvent

    engine = make_engine(server.database_url)
    with make_sessionmaker(engine)() as s:
        ids = {
            int(e.key.split("-")[1]): e.id
            for e in s.scalars(select(Evaluation).where(Evaluation.key.like("dash-%")))
        }
        cases = {c.evaluation_id: c for c in s.scalars(select(Case))}
        for c in cases.values():
            c.flag = "none"
        cases[ids[2]].state, cases[ids[2]].flag = "handling", "red"
        cases[ids[5]].flag = "escalated"
        cases[ids[6]].flag = "yellow"
        gone = cases[ids[7]].id
        s.execute(delete(Alert).where(Alert.case_id == gone))
        s.execute(delete(CaseEvent).where(CaseEvent.case_id == gone))
        s.execute(delete(Case).where(Case.id == gone))
        s.commit()
    engine.dispose()
    return ids


def _api(server: ServerProc, **params: str) -> dict[str, Any]:
    return server.get("/bad-ratings", **({"hall": HALL, "period": "2026-11"} | params))


def _rows(page: Any) -> list[tuple[int, str]]:
    """(evaluation id, case state) of each row shown, top to bottom."""
    return [
        (int(e), s)
        for e, s in page.eval_on_selector_all(
            "#bad-table tbody tr[data-evaluation]",
            "rows => rows.map(r => [r.dataset.evaluation, r.dataset.caseState])",
        )
    ]


def _expected(answer: dict[str, Any]) -> list[tuple[int, str]]:
    return [
        (i["evaluation_id"], i["case"]["state"] if i["case"] else "none") for i in answer["items"]
    ]


def _wait_rows(page: Any, want: list[tuple[int, str]]) -> None:
    ids = ",".join(str(e) for e, _ in want)
    page.wait_for_function(
        "ids => [...document.querySelectorAll('#bad-table tbody tr[data-evaluation]')]"
        ".map(r => r.dataset.evaluation).join(',') === ids",
        arg=ids,
    )
    assert _rows(page) == want


def _cells(page: Any, evaluation: int) -> list[str]:
    return list(
        page.eval_on_selector_all(
            f"#bad-table tr[data-evaluation='{evaluation}'] td",
            "tds => tds.map(td => td.innerText)",
        )
    )


def test_bad_list_equals_the_api_with_cases_filters_and_paging(
    server: ServerProc, tmp_path: Path
) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    ids = _seed(server)
    every = _api(server)
    assert every["total"] == 6  # the six 差评 of November (minute 4 is 满意)
    assert [i["evaluation_id"] for i in every["items"]] == [ids[m] for m in (7, 6, 5, 3, 2, 1)]
    red = next(i for i in every["items"] if i["evaluation_id"] == ids[2])["case"]
    assert (red["state"], red["flag"]) == ("handling", "red")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport=DESKTOP)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, server, "#/bad?hall=H1&period=2026-11")
        _wait_rows(page, _expected(every))  # newest first, as the API
        assert page.locator("section[data-view=bad]").is_visible()
        assert page.inner_text("section[data-view=bad] .view-title") == "差评"
        assert page.get_attribute("#nav a[data-nav=bad]", "aria-current") == "page"
        assert page.inner_text("#bad-summary").startswith("共 6 条差评")

        # A 差评 with a case: its number links to the case page; state and flag as text.
        row = f"#bad-table tr[data-evaluation='{ids[2]}']"
        link = page.locator(f"{row} td.case a")
        assert link.inner_text() == red["number"]
        assert link.get_attribute("href") == f"/cases/{red['id']}"
        cells = _cells(page, ids[2])
        #        time                channel   level     window  staff   reasons
        assert cells[:6] == [
            "2026-11-20 10:02",
            "评价器",
            "非常不满意",
            "A01",
            "1002",
            "效率低、不一次告知",
        ]
        assert cells[6] == HOSTILE  # shown as text, never run
        assert cells[8:] == ["办理", "红牌·逾期", red["due"]]
        assert page.get_attribute(f"{row} .case-flag", "class") == "case-flag flag-red"
        flags = page.eval_on_selector_all(
            "#bad-table .case-flag", "fs => fs.map(f => f.dataset.flag)"
        )
        assert flags == ["yellow", "escalated", "none", "red", "none"]  # minutes 6, 5, 3, 2, 1
        assert flags == [i["case"]["flag"] for i in every["items"] if i["case"]]
        assert _cells(page, ids[7])[7:] == ["未立案", "—", "—", "—"]
        assert page.evaluate("() => window.__pwned") is None
        shoot(page, tmp_path, "bad-desktop")

        # A filter from the controls goes into the hash (a new history entry) and the list follows.
        page.select_option("#bad-channel", "ballot_box")
        _wait_rows(page, _expected(_api(server, channel="ballot_box")))
        assert "channel=ballot_box" in page.url and "#/bad?hall=H1&period=2026-11" in page.url
        page.fill("#bad-window", "A01")
        page.press("#bad-window", "Enter")
        _wait_rows(page, _expected(_api(server, channel="ballot_box", window="A01")))
        assert "window=A01" in page.url
        page.go_back()  # back: the channel filter alone
        _wait_rows(page, _expected(_api(server, channel="ballot_box")))
        assert page.input_value("#bad-window") == ""

        # Nothing matches: the empty-state text, no table.
        page.select_option("#bad-case-state", "returned")
        page.wait_for_selector("#bad-empty:not([hidden])")
        assert page.inner_text("#bad-empty") == "本期间没有符合条件的差评"
        assert _api(server, channel="ballot_box", case_state="returned")["total"] == 0
        page.click("#bad-clear")
        _wait_rows(page, _expected(every))

        # Paging: two at a time, the next page as the API's offset=2.
        page.goto(page.url.split("#")[0] + "#/bad?hall=H1&period=2026-11&limit=2")
        _wait_rows(page, _expected(_api(server, limit="2")))
        assert page.inner_text("#bad-range") == "第 1–2 条"
        assert page.is_disabled("#bad-prev") and not page.is_disabled("#bad-next")
        page.click("#bad-next")
        _wait_rows(page, _expected(_api(server, limit="2", offset="2")))
        assert "offset=2" in page.url and page.inner_text("#bad-range") == "第 3–4 条"
        assert page.get_attribute("#bad-pager", "aria-label") == "分页"

        # English on request.
        page.click("#lang")
        page.wait_for_function(
            "() => document.querySelector('section[data-view=bad] .view-title')"
            ".textContent === 'Bad ratings (差评)'"
        )
        # By keyboard: the first page disables 上一页, so the focus moves to 下一页 (not lost).
        page.focus("#bad-prev")
        page.keyboard.press("Enter")
        _wait_rows(page, _expected(_api(server, limit="2")))
        assert page.evaluate("document.activeElement.id") == "bad-next"
        assert page.get_attribute("#bad-pager", "aria-label") == "pages"
        yellow = f"#bad-table tr[data-evaluation='{ids[6]}'] .case-flag"
        page.wait_for_function(
            "sel => document.querySelector(sel).textContent === 'Yellow: due soon'", arg=yellow
        )

        # The duty manager's shortcut: today's 差评 (the period becomes today's date).
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
        page.click("#bad-today")
        page.wait_for_function("t => document.querySelector('#period').value === t", arg=today)
        assert f"period={today}" in page.url
        on_today = _api(server, period=today)
        _wait_rows(page, _expected(on_today))
        if on_today["total"] == 0:  # the ratings above are of November 2026
            page.wait_for_selector("#bad-empty:not([hidden])")
        assert not errors, errors
        browser.close()


def test_bad_list_deep_link_opens_filtered_at_phone_width(
    server: ServerProc, tmp_path: Path
) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    ids = _seed(server)
    want = _api(server, window="A01", case_state="accepted")
    assert [i["evaluation_id"] for i in want["items"]] == [ids[6], ids[1]]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport=PHONE)
        sign_in(page, server, "#/bad?hall=H1&period=2026-11&window=A01&case_state=accepted")
        _wait_rows(page, _expected(want))
        assert page.input_value("#bad-window") == "A01"
        assert page.input_value("#bad-case-state") == "accepted"
        assert page.input_value("#period") == "2026-11"
        assert page_scroll_width(page) <= PHONE["width"]
        # Stacked on a phone: each cell is labelled with its column.
        assert (
            page.get_attribute(f"#bad-table tr[data-evaluation='{ids[6]}'] td", "data-label")
            == "时间"
        )
        shoot(page, tmp_path, "bad-filtered-phone")
        page.click("#bad-clear")
        _wait_rows(page, _expected(_api(server)))
        assert page_scroll_width(page) <= PHONE["width"]
        shoot(page, tmp_path, "bad-phone")

        # A window the hall does not have: the API's message instead of the list, no stale rows.
        page.fill("#bad-window", "A09")
        page.press("#bad-window", "Enter")
        page.wait_for_function(
            "() => document.querySelector('#bad-empty').textContent.startsWith('404')"
        )
        assert "A09" in page.inner_text("#bad-empty")
        assert page.locator("#bad-table tbody tr").count() == 0

        # By keyboard from another view: the nav link and Enter open the list, focus on its title.
        keys = browser.new_page(viewport=DESKTOP)
        sign_in(keys, server, "#/cases?hall=H1&period=2026-11")
        keys.focus("#nav a[data-nav=bad]")
        keys.keyboard.press("Enter")
        _wait_rows(keys, _expected(_api(server)))
        assert keys.evaluate("() => document.activeElement.className") == "view-title"
        browser.close()
