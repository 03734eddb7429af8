"""The case pages (/cases/, docs/cases.md "Pages") in headless Chromium against a real server
process: a 办不成事 case (一般, 转办) and a 吐槽找茬 case (with 退回 and 延期) through their whole
lives, each step checked on the page (state label, trail, flag) and through the JSON API; a
viewer sees no action forms; a handler of another department is refused (403) with the reason.
One server and one browser for the module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from server.cases.states import ACTION_LABELS, STATE_LABELS
from server.cases.texts import FLAG_TEXT
from tests.conftest import require_service
from tests.e2e.conftest import HALL, ServerProc, start_server
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM

TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = "cases-password-1"
# username -> (role, department code or None)
USERS = {
    "clerk": ("hall_admin", None),
    "handler1": ("handler", "D1"),
    "handler2": ("handler", "D2"),
    "viewer1": ("viewer", None),
}
DEPARTMENTS = {"D1": "不动产登记科", "D2": "社保医保科"}
HOSTILE = "<img src=x onerror=window.__pwned=1>"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@dataclass
class Site:
    server: ServerProc
    browser: Any
    desks: dict[str, Desk] = field(default_factory=dict)

    def desk(self, user: str) -> Desk:
        """The user's browser tab, signed in once for the module."""
        if user not in self.desks:
            self.desks[user] = Desk(self, user)
        return self.desks[user]

    def api(self, method: str, path: str, user: str = "admin", **kw: Any) -> httpx.Response:
        token = _token(self.server, user)
        return httpx.request(
            method,
            f"{self.server.url}/api/v1{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            **kw,
        )

    def case(self, case_id: int) -> dict[str, Any]:
        r = self.api("GET", f"/cases/{case_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def tick(self, day: date) -> None:
        """The case clock (`hallrate cases tick --now`) at 10:00 hall time on ``day``, on the
        server's database."""
        from server.cases.tick import tick
        from server.db import make_engine, make_sessionmaker
        from server.policy import Policy

        engine = make_engine(self.server.database_url)
        try:
            with make_sessionmaker(engine)() as session:
                tick(session, Policy.default(), now=datetime.combine(day, time(10, 0), TZ))
        finally:
            engine.dispose()


_tokens: dict[str, str] = {}


def _token(server: ServerProc, user: str) -> str:
    """A token per user, signed in once (a sign-in costs a password hash)."""
    if user == "admin":
        _tokens.setdefault(user, server.token())
    if user not in _tokens:
        r = httpx.post(
            f"{server.url}/api/v1/auth/token", json={"username": user, "password": PASSWORD}
        )
        r.raise_for_status()
        _tokens[user] = str(r.json()["access_token"])
    return _tokens[user]


def _seed(server: ServerProc) -> None:
    """Two departments of H1 and the users, through the admin API."""
    admin = {"Authorization": f"Bearer {server.token()}"}
    halls = httpx.get(f"{server.url}/api/v1/halls", headers=admin).json()
    hall_id = next(h["id"] for h in halls if h["code"] == HALL)
    dept_ids = {}
    for code, name in DEPARTMENTS.items():
        r = httpx.post(
            f"{server.url}/api/v1/departments",
            json={"hall_id": hall_id, "code": code, "name": name},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        dept_ids[code] = r.json()["id"]
    for username, (role, dept) in USERS.items():
        body = {"username": username, "password": PASSWORD, "role": role, "hall_id": hall_id}
        if dept:
            body["department_id"] = dept_ids[dept]
        r = httpx.post(f"{server.url}/api/v1/users", json=body, headers=admin)
        assert r.status_code == 201, r.text
        assert r.json()["department_id"] == (dept_ids[dept] if dept else None)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("cases-browser")
    server = start_server(tmp, f"sqlite:///{tmp / 'hallrate.db'}")
    try:
        _seed(server)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            site = Site(server, browser)
            yield site
            for desk in site.desks.values():
                desk.close()
            browser.close()
    finally:
        server.proc.stop()


class Desk:
    """One person's browser tab on the case pages."""

    def __init__(self, site: Site, user: str) -> None:
        self.site = site
        self.context = site.browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(site.server.url + "/cases/")
        assert self.page.title().startswith("案件办理")
        self.page.fill("#username", user)
        self.page.fill("#password", PASSWORD)
        self.page.click("#login button[type=submit]")
        self.page.wait_for_selector("#nav:not([hidden])")

    def check(self) -> None:
        """No script error, and nothing hostile ran."""
        assert not self.errors, self.errors
        assert self.page.evaluate("() => window.__pwned") is None

    def close(self) -> None:
        self.check()
        self.context.close()

    def open_case(self, case_id: int) -> None:
        self.page.goto(f"{self.site.server.url}/cases/{case_id}")
        self.page.wait_for_selector("#c-trail tbody tr")

    def download(self, selector: str) -> tuple[str, bytes]:
        """Click a document link (fetched with the bearer token); the saved file's name and
        bytes."""
        with self.page.expect_download() as info:
            self.page.click(selector)
        download = info.value
        return str(download.suggested_filename), Path(download.path()).read_bytes()

    def state(self) -> str:
        return str(self.page.inner_text("#c-state"))

    def flag(self) -> tuple[str, str]:
        """The case's flag as shown: (data-flag, its words)."""
        badge = self.page.locator("#c-flag")
        return str(badge.get_attribute("data-flag")), str(badge.inner_text())

    def trail(self) -> list[list[str]]:
        rows = self.page.locator("#c-trail tbody tr")
        return [
            [str(c) for c in rows.nth(i).locator("td").all_inner_texts()]
            for i in range(rows.count())
        ]

    def forms(self) -> list[str]:
        return [
            str(f.get_attribute("data-action")) for f in self.page.locator("#c-actions form").all()
        ]

    def act(self, action: str, values: dict[str, str] | None = None, **checks: str) -> None:
        """Fill the action's form (text fields by name, radios and selects by value), submit,
        and wait for the trail to grow by one row."""
        form = self.page.locator(f"#c-actions form[data-action='{action}']")
        before = self.page.locator("#c-trail tbody tr").count()
        for name, value in (values or {}).items():
            control = form.locator(f"[name='{name}']")
            kind = control.first.evaluate("n => n.tagName + ':' + (n.type || '')")
            if kind == "INPUT:radio":
                form.locator(f"input[name='{name}'][value='{value}']").check()
            elif kind.startswith("SELECT"):
                control.select_option(value)
            else:
                control.fill(value)
        form.locator("button[type=submit]").click()
        self.page.wait_for_function(
            "n => document.querySelectorAll('#c-trail tbody tr').length > n", arg=before
        )
        assert self.page.inner_text("#c-error") == ""


def _last_action(desk: Desk, action: str) -> list[str]:
    """The newest trail row of ``action`` (flag rows by the system may follow it)."""
    label = ACTION_LABELS[action][0]
    rows = [row for row in desk.trail() if row[2] == label]
    assert rows, desk.trail()
    return rows[-1]


def _agrees(desk: Desk, case: dict[str, Any]) -> None:
    """The page shows what the API says: state label, flag (colour class and words), trail."""
    label = "转办" if case["state"] == "assigned" and case["transferred"] else None
    assert desk.state() == (label or STATE_LABELS[case["state"]][0])
    assert desk.flag() == (case["flag"], FLAG_TEXT[case["flag"]][0])
    assert len(desk.trail()) == len(case["trail"])
    assert desk.page.locator("#c-flag").get_attribute("class") == f"flag {case['flag']}"


def test_cannot_do_case_general_transferred_through_its_whole_life(site: Site) -> None:
    clerk = site.desk("clerk")
    page = clerk.page
    # 受理: the 受理单's fields; 一般事项, 转办 to D1 with its officer.
    page.click("#nav-cannot-do")
    page.wait_for_selector("#new-view:not([hidden])")
    assert page.inner_text("#new-title") == "“办不成事”登记窗口受理"
    assert page.inner_text("#n-name-label") == "反映人"
    assert page.inner_text("#n-phone-label") == "联系电话"
    assert page.is_disabled("input[name=handling][value=spot]")  # 一般: no 当场答复
    page.fill("#n-name", HOSTILE)
    page.fill("#n-phone", "13900001111")
    page.fill("#n-content", "营业执照变更多次未能受理\n材料已齐全")
    page.check("input[name=category][value=general]")
    page.select_option("#n-department", "D1")
    page.fill("#n-assignee input[name=assignee_person]", "李四")
    page.fill("#n-remarks", "群众来电反映")
    page.click("#n-submit")
    page.wait_for_url("**/cases/*")
    page.wait_for_selector("#c-trail tbody tr")
    case_id = int(page.url.rsplit("/", 1)[1])
    case = site.case(case_id)
    assert (case["kind"], case["category"], case["state"]) == ("cannot_do", "general", "assigned")
    assert case["transferred"] is True and case["disposal"] == "transfer"
    assert (case["assignee_department"], case["assignee_person"]) == ("D1", "李四")
    assert case["citizen_name"] == HOSTILE and case["phone"] == "139****1111"
    _agrees(clerk, case)
    assert clerk.state() == "转办"
    assert page.inner_text("#c-number") == case["number"]
    assert page.inner_text("#c-facts dd[data-field=citizen_name]") == HOSTILE  # text, not HTML
    assert page.inner_text("#c-facts dd[data-field=requirement]") == "2个工作日办结"
    assert "不动产登记科" in page.inner_text("#c-facts dd[data-field=assignee]")
    assert [row[2] for row in clerk.trail()][:2] == ["受理", "承办/转办"]
    docs = page.locator("#c-documents a")
    assert [docs.nth(i).inner_text() for i in range(docs.count())] == [
        "受理单（PDF）",
        "转办单（PDF）",
    ]
    assert docs.first.get_attribute("href") == f"/api/v1/cases/{case_id}/forms/shouli.pdf"
    name, data = clerk.download("#c-documents a[data-form='zhuanban']")
    assert name == f"{case['number']}-zhuanban.pdf" and data.startswith(b"%PDF-")
    clerk.check()

    # 办理 and 答复 by the D1 handler.
    handler = site.desk("handler1")
    handler.open_case(case_id)
    assert handler.forms() == list(case["allowed_actions"])
    handler.act("start")
    assert handler.state() == "办理" and site.case(case_id)["state"] == "handling"
    handler.act("reply", {"result": "已协调市场监管窗口当日办结", "note": "电话告知当事人"})
    case = site.case(case_id)
    assert case["state"] == "callback" and case["result"] == "已协调市场监管窗口当日办结"
    _agrees(handler, case)
    assert _last_action(handler, "reply")[4] == "电话告知当事人"
    handler.check()

    # 回访 (满意) and 办结 by the clerk.
    clerk = site.desk("clerk")
    clerk.open_case(case_id)
    clerk.act("callback", {"feedback": "satisfied", "note": "当事人表示满意"})
    case = site.case(case_id)
    assert case["feedback"] == "satisfied" and case["state"] == "callback"
    assert clerk.page.inner_text("#c-facts dd[data-field=feedback]") == "满意"
    _agrees(clerk, case)
    clerk.act("close")
    case = site.case(case_id)
    assert case["state"] == "closed" and case["closed_on_time"] is True
    _agrees(clerk, case)
    assert clerk.state() == "办结"
    assert clerk.forms() == ["note"]  # a closed case takes notes only
    assert [row[2] for row in clerk.trail() if row[2] != "预警"] == [
        "受理",
        "承办/转办",
        "办理",
        "答复",
        "回访",
        "办结",
    ]

    # The list finds it by number, with its state; the closed filter keeps it.
    clerk.page.goto(f"{site.server.url}/cases/?state=closed&q={case['number']}")
    clerk.page.wait_for_selector(f"#cases tr[data-case='{case_id}']")
    row = clerk.page.locator(f"#cases tr[data-case='{case_id}'] td").all_inner_texts()
    assert row[0] == case["number"] and row[2] == "办结" and row[1] == "办不成事 · 一般事项"
    # The 台账 of the hall (the clerk's only one), as the API serves it.
    assert clerk.page.get_attribute("#ledger", "href") == f"/api/v1/cases/ledger.xlsx?hall={HALL}"
    name, data = clerk.download("#ledger")
    assert name.startswith(f"ledger-{HALL}") and name.endswith(".xlsx")
    assert data.startswith(b"PK")  # a zip: the XLSX
    clerk.check()


def test_complaint_with_return_and_extension_through_its_whole_life(site: Site) -> None:
    clerk = site.desk("clerk")
    page = clerk.page
    page.click("#nav-complaint")
    page.wait_for_selector("#new-view:not([hidden])")
    assert page.inner_text("#n-name-label") == "诉求人"
    assert page.inner_text("#n-phone-label") == "联系方式"
    assert page.is_hidden("#n-handling")  # a complaint has no 处理意见 choice
    page.fill("#n-source", "电话")
    page.fill("#n-name", "王五")
    page.fill("#n-phone", "13900002222")
    page.fill("#n-content", "窗口人员态度生硬，推诿")
    page.fill("#n-window", "A01")
    page.click("#n-submit")
    page.wait_for_url("**/cases/*")
    page.wait_for_selector("#c-trail tbody tr")
    case_id = int(page.url.rsplit("/", 1)[1])
    case = site.case(case_id)
    assert (case["kind"], case["state"], case["source"], case["window"]) == (
        "complaint",
        "accepted",
        "电话",
        "A01",
    )
    _agrees(clerk, case)
    assert clerk.state() == "受理"
    assert page.inner_text("#c-facts dd[data-field=source]") == "电话"
    assert [a.inner_text() for a in page.locator("#c-documents a").all()] == ["承办单（PDF）"]

    # The clock moves on (hallrate cases tick): red once overdue, 督办 three working days on.
    due = date.fromisoformat(case["first_due"])
    red_day, escalated_day = _overdue_days(site, due)
    site.tick(red_day)
    clerk.open_case(case_id)
    case = site.case(case_id)
    assert case["flag"] == "red"
    _agrees(clerk, case)
    assert clerk.flag() == ("red", "红牌·逾期")
    assert clerk.trail()[-1][1].startswith("system")
    site.tick(escalated_day)
    clerk.page.goto(f"{site.server.url}/cases/?flag=escalated")
    clerk.page.wait_for_selector(f"#cases tr[data-case='{case_id}']")
    badge = clerk.page.locator(f"#cases tr[data-case='{case_id}'] .flag")
    assert (badge.get_attribute("data-flag"), badge.inner_text()) == ("escalated", "督办")

    # 承办 to D2; the D2 handler starts, then sends it back (退回) with a reason.
    clerk.open_case(case_id)
    clerk.act("assign", {"transferred": "false", "assignee_department": "D2"})
    case = site.case(case_id)
    assert (case["state"], case["transferred"], case["assignee_department"]) == (
        "assigned",
        False,
        "D2",
    )
    _agrees(clerk, case)
    assert clerk.state() == "承办"
    clerk.check()
    handler2 = site.desk("handler2")
    handler2.open_case(case_id)
    handler2.act("start")
    handler2.act("return", {"note": "不属于本科室职责，请改派不动产登记科"})
    case = site.case(case_id)
    assert case["state"] == "returned"
    _agrees(handler2, case)
    assert handler2.state() == "退回"
    assert _last_action(handler2, "return")[4] == "不属于本科室职责，请改派不动产登记科"
    handler2.check()

    # Re-assigned to D1; the clerk extends by 3 working days; D1 handles and replies.
    clerk = site.desk("clerk")
    clerk.open_case(case_id)
    clerk.act("assign", {"transferred": "false", "assignee_department": "D1"})
    old_due = site.case(case_id)["due"]
    clerk.act("extend", {"extension_days": "3", "note": "需调取历史档案"})
    case = site.case(case_id)
    assert case["extended_days"] == 3 and case["due"] > old_due
    _agrees(clerk, case)
    extend = _last_action(clerk, "extend")
    assert extend[4] == "需调取历史档案" and f"{old_due} → {case['due']}" in extend[5]
    assert case["due"] in clerk.page.inner_text("#c-deadlines")
    clerk.check()
    handler1 = site.desk("handler1")
    handler1.open_case(case_id)
    handler1.act("start")
    handler1.act("reply", {"opinion": "已约谈窗口人员并批评教育", "reply": "已电话回复诉求人"})
    case = site.case(case_id)
    assert (case["state"], case["opinion"], case["reply"]) == (
        "callback",
        "已约谈窗口人员并批评教育",
        "已电话回复诉求人",
    )
    _agrees(handler1, case)
    handler1.act("callback", {"feedback": "satisfied"})
    handler1.act("close", {"note": "办结"})
    case = site.case(case_id)
    assert case["state"] == "closed" and case["flag"] == "none"
    _agrees(handler1, case)
    assert [r[2] for r in handler1.trail() if r[2] != "预警"] == [
        "受理",
        "承办/转办",
        "办理",
        "退回",
        "承办/转办",
        "延期",
        "办理",
        "答复",
        "回访",
        "办结",
    ]
    handler1.check()


def _overdue_days(site: Site, due: date) -> tuple[date, date]:
    """The first working day after ``due`` (red) and the day it is 督办 (escalated), by the
    server's own working days."""
    from server.cases.service import case_days
    from server.db import make_engine, make_sessionmaker
    from server.policy import Policy

    policy = Policy.default()
    engine = make_engine(site.server.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            wd = case_days(session, policy)
    finally:
        engine.dispose()
    return wd.add(due, 1), wd.add(due, policy.cases.escalate_after_days)


def test_viewer_sees_no_forms_and_another_departments_handler_is_refused(site: Site) -> None:
    r = site.api(
        "POST",
        "/cases",
        "clerk",
        json={"kind": "complaint", "fields": {"citizen_name": "赵六", "content": "排队太久"}},
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    r = site.api(
        "POST",
        f"/cases/{case_id}/actions",
        "clerk",
        json={"action": "assign", "fields": {"assignee_department": "D1"}},
    )
    assert r.status_code == 200, r.text

    viewer = site.desk("viewer1")
    assert viewer.page.is_hidden("#nav-complaint") and viewer.page.is_hidden("#nav-cannot-do")
    viewer.open_case(case_id)
    assert viewer.forms() == []
    assert viewer.page.inner_text("#c-readonly") == "您的账号为只读，不能办理案件。"
    viewer.page.goto(f"{site.server.url}/cases/new/complaint")
    viewer.page.wait_for_selector("#new-view:not([hidden])")
    assert viewer.page.is_disabled("#n-submit")
    viewer.check()

    # handler2 (D2) reads the D1 case; acting is refused with the API's reason, nothing changes.
    handler2 = site.desk("handler2")
    handler2.open_case(case_id)
    before = site.case(case_id)
    handler2.page.locator("#c-actions form[data-action='start'] button").click()
    handler2.page.wait_for_function("() => document.querySelector('#c-error').textContent")
    message = handler2.page.inner_text("#c-error")
    assert message.startswith("无权办理：") and "department" in message
    after = site.case(case_id)
    assert (after["state"], after["version"], len(after["trail"])) == (
        before["state"],
        before["version"],
        len(before["trail"]),
    )
    assert handler2.state() == "承办"
    handler2.check()

    # English is one click away, and the state machine's labels follow.
    desk = site.desk("clerk")
    desk.open_case(case_id)
    desk.page.click("#lang")
    assert desk.state() == STATE_LABELS["assigned"][1]
    assert desk.page.inner_text("#c-actions form[data-action='start'] legend") == "Start handling"
    desk.page.click("#lang")
    assert desk.state() == "承办"
    desk.check()
