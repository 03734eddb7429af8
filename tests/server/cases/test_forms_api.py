"""GET /api/v1/cases/{id}/forms/{form}.pdf and GET /api/v1/cases/ledger.xlsx on a running app,
SQLite and PostgreSQL: role-scoped, phone numbers masked except for the roles that may read a
case's number (each read a "phone" row in the case's trail), a case opened and transferred
through the case API printed, the 台账 in the seed's columns with formula-safe cells and
hall-local times, every refusal a 4xx with its message and no trail row."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.cases import pdf
from server.models import Department, User
from server.models.cases import Case, CaseEvent
from tests.server.callbacks import figures_data as fd
from tests.server.cases.forms_data import INJECTION, LEDGER_SEED, MASKED, PHONE, case
from tests.server.conftest import Server
from tests.support.cjk_font import cjk_font
from tests.support.pdf_glyphs import pdf_text, require_poppler

FORM = "/api/v1/cases/{}/forms/{}.pdf"
LEDGER = "/api/v1/cases/ledger.xlsx"


def _session(server: Server) -> Session:
    return server.client.app.state.sessionmaker()  # type: ignore[attr-defined]


@pytest.fixture
def seeded(server: Server) -> dict[str, Any]:
    """H1: a complaint (承办科室 a department of the hall), a transferred 办不成事, one answered
    on the spot, a 差评; H2: one 办不成事. Users: a hall admin, an agent and a handler of the
    complaint's department of H1, a hall admin of H2."""
    cipher = server.settings.phone_cipher
    with _session(server) as s:
        h1, h2 = fd.hall(s, "H1"), fd.hall(s, "H2")
        dept = Department(hall_id=h1.id, code="D01", name="行政审批服务局综合科")
        s.add(dept)
        s.flush()
        ids = {
            "complaint": case(
                s, h1.id, "TS202600001", "complaint", cipher, assignee_department_id=dept.id
            ).id,
            "transferred": case(s, h1.id, "BC202600001", "cannot_do", cipher, remarks=INJECTION).id,
            "answered": case(
                s,
                h1.id,
                "BC202600002",
                "cannot_do",
                cipher,
                category="simple",
                transferred=False,
                extra={"disposal": "answered"},
                opened_at=datetime.fromisoformat("2026-10-08T02:00:00+00:00"),
                opened_day=datetime.fromisoformat("2026-10-08").date(),
                citizen_name="+SUM(A1)",
                phone=None,
            ).id,
            "bad_rating": case(s, h1.id, "CP202600001", "bad_rating", cipher).id,
            "other_hall": case(s, h2.id, "BC202600001", "cannot_do", cipher).id,
        }
        fd.user(s, "h1admin", "hall_admin", h1.id, "h1admin-password")
        fd.user(s, "h1agent", "agent", h1.id, "h1agent-password")
        fd.user(s, "h2admin", "hall_admin", h2.id, "h2admin-password")
        fd.user(s, "h1handler", "handler", h1.id, "h1handler-password")
        s.execute(update(User).where(User.username == "h1handler").values(department_id=dept.id))
        s.commit()
    return ids


def _reads(server: Server) -> list[tuple[str, str, str, str]]:
    """The trail's phone reads: (actor, role, note, case number), oldest first."""
    with _session(server) as s:
        rows = s.execute(
            select(CaseEvent.actor, CaseEvent.actor_role, CaseEvent.note, Case.number)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(CaseEvent.action == "phone")
            .order_by(CaseEvent.id)
        )
        return [(a, r, n, c) for a, r, n, c in rows]


def _sheet(data: bytes) -> tuple[str, list[list[Any]]]:
    ws = load_workbook(io.BytesIO(data)).active
    assert ws is not None
    return ws.title, [list(r) for r in ws.iter_rows(values_only=True)]


def test_forms_as_pdf_masked_or_in_full_and_in_the_trail(
    server: Server, seeded: dict[str, Any]
) -> None:
    require_poppler()
    cjk_font()
    admin = server.login("h1admin", "h1admin-password")
    texts = {}
    for key, form in [
        ("complaint", "chengban"),
        ("answered", "shouli"),
        ("transferred", "zhuanban"),
    ]:
        r = server.client.get(FORM.format(seeded[key], form), headers=admin)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["cache-control"] == "no-store"
        assert r.content.startswith(b"%PDF-")
        texts[form] = pdf_text(r.content)
        assert PHONE not in texts[form]
    assert 'filename="BC202600001-zhuanban.pdf"' in r.headers["content-disposition"]
    assert "联系方式 " + MASKED in texts["chengban"] and "联系电话 " + MASKED in texts["zhuanban"]
    assert "承办科室 行政审批服务局综合科" in texts["chengban"]  # the department's name
    assert "简单事项■" in texts["shouli"] and "当场答复■" in texts["shouli"]
    assert _reads(server) == []

    agent = server.login("h1agent", "h1agent-password")
    r = server.client.get(FORM.format(seeded["transferred"], "shouli"), headers=agent)
    assert r.status_code == 200 and "联系电话 " + PHONE in pdf_text(r.content)
    # A case without a number reveals nothing, so it writes no audit row.
    r = server.client.get(FORM.format(seeded["answered"], "shouli"), headers=agent)
    assert r.status_code == 200
    assert _reads(server) == [("h1agent", "agent", "form shouli", "BC202600001")]

    # A handler bound to a department: in full for the cases assigned to it only.
    handler = server.login("h1handler", "h1handler-password")
    r = server.client.get(FORM.format(seeded["complaint"], "chengban"), headers=handler)
    assert "联系方式 " + PHONE in pdf_text(r.content)
    r = server.client.get(FORM.format(seeded["transferred"], "zhuanban"), headers=handler)
    assert "联系电话 " + MASKED in pdf_text(r.content)
    assert _reads(server)[1:] == [("h1handler", "handler", "form chengban", "TS202600001")]


def test_a_case_opened_and_transferred_through_the_case_api_prints(
    server: Server, seeded: dict[str, Any]
) -> None:
    """The engine's fields land where the forms read them: 转办单 only once transferred."""
    require_poppler()
    cjk_font()
    admin = server.login("h1admin", "h1admin-password")
    fields = {"citizen_name": "赵云", "phone": "13900000009", "content": "社保转移无法办理"}
    body = {"kind": "cannot_do", "category": "general", "fields": fields}
    r = server.client.post("/api/v1/cases", json=body, headers=admin)
    assert r.status_code == 201, r.text
    opened = r.json()
    url = FORM.format(opened["id"], "zhuanban")
    assert server.client.get(url, headers=admin).status_code == 409
    assign = {
        "action": "assign",
        "version": opened["version"],
        "fields": {"assignee_office": "区人力资源和社会保障局", "assignee_person": "钱七"},
    }
    r = server.client.post(f"/api/v1/cases/{opened['id']}/actions", json=assign, headers=admin)
    assert r.status_code == 200, r.text
    r = server.client.get(url, headers=admin)
    assert r.status_code == 200, r.text
    text = pdf_text(r.content)
    for expected in [
        f"编号：{opened['number']}",
        "反映人姓名 赵云 联系电话 139****0009",
        "承办单位 区人力资源和社会保障局 承办人 钱七",
        "简单事项□ 一般事项■ 复杂事项□",
        "社保转移无法办理",
        "2个工作日办结■",
        "当事人：满意□ 不满意□",
    ]:
        assert expected in text, (expected, text)
    shouli = pdf_text(server.client.get(FORM.format(opened["id"], "shouli"), headers=admin).content)
    assert "转办■" in shouli and "转办部门：区人力资源和社会保障局" in shouli


def test_refusals_are_4xx_with_a_message_and_read_no_number(
    server: Server, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = server.login("h1admin", "h1admin-password")
    c = server.client

    def detail(url: str, headers: dict[str, str], status: int, **params: str) -> str:
        r = c.get(url, headers=headers, params=params)
        assert r.status_code == status, r.text
        return str(r.json()["detail"])

    assert detail(FORM.format(999999, "shouli"), admin, 404) == "no case with id 999999"
    assert detail(FORM.format(seeded["transferred"], "jieban"), admin, 404) == (
        "unknown form 'jieban'; forms: chengban, shouli, zhuanban"
    )
    assert detail(FORM.format(seeded["answered"], "zhuanban"), admin, 409).endswith(
        "case BC202600002 was not transferred. Its forms: shouli"
    )
    assert "is for complaint cases; case BC202600001 is a cannot_do case" in detail(
        FORM.format(seeded["transferred"], "chengban"), admin, 409
    )
    assert "a 差评 case has no seed form" in detail(
        FORM.format(seeded["bad_rating"], "chengban"), admin, 409
    )
    other = seeded["other_hall"]  # another hall's case is not there for this account
    assert detail(FORM.format(other, "shouli"), admin, 404) == f"no case with id {other}"
    assert c.get(FORM.format(seeded["transferred"], "shouli")).status_code == 401
    assert c.get(FORM.format(0, "shouli"), headers=admin).status_code == 422
    # No CJK font on the server: 503 with what to install, and no number read.
    monkeypatch.setattr(pdf, "FONT_PATHS", ("/nonexistent/font.ttc",))
    msg = detail(FORM.format(seeded["transferred"], "zhuanban"), server.admin, 503)
    assert msg.startswith("PDF forms need a CJK font: install fonts-noto-cjk")

    assert detail(LEDGER, server.admin, 400) == "give hall= (the ledger is one hall's)"
    assert detail(LEDGER, server.admin, 404, hall="H9") == "unknown hall 'H9'"
    assert detail(LEDGER, admin, 403, hall="H2") == "this account may only see its own hall"
    assert detail(LEDGER, admin, 400, **{"from": "2026-10-31", "to": "2026-10-01"}) == (
        "from must not be after to"
    )
    assert detail(LEDGER, admin, 400, **{"from": "1999-12-31"}) == (
        "from and to must be days in 2000-01-01..2099-12-31"
    )
    assert "kind" in detail(LEDGER, admin, 422, kind="tickets")
    assert "from" in detail(LEDGER, admin, 422, **{"from": "2026-13-01"})
    assert c.get(LEDGER).status_code == 401
    assert _reads(server) == []


def test_ledger_in_the_seeds_columns_formula_safe_hall_local_masked_or_audited(
    server: Server, seeded: dict[str, Any]
) -> None:
    admin = server.login("h1admin", "h1admin-password")
    r = server.client.get(LEDGER, headers=admin)  # a hall admin's own hall
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert r.headers["cache-control"] == "no-store"
    title, rows = _sheet(r.content)
    assert title == "登记台账"
    assert rows[0] == LEDGER_SEED
    assert [row[0] for row in rows[1:]] == [
        "TS202600001", "BC202600001", "CP202600001", "BC202600002"
    ]  # fmt: skip
    transferred = rows[2]
    assert transferred[1:8] == [
        "张晓明",
        MASKED,
        "办理营业执照变更时外省身份证无法识别，窗口不能受理。",
        datetime(2026, 10, 1, 1, 30),  # 17:30 UTC on 30 September
        "一般事项，2个工作日办结（2026年10月12日前）",
        "区市场监督管理局",
        "已协调省厅开通外省身份证核验，当事人已办结",
    ]
    assert transferred[8] == datetime(2026, 10, 9, 11, 15)
    assert transferred[9] == "'" + INJECTION  # shown as text, never run as a formula
    assert rows[4][1] == "'+SUM(A1)" and rows[4][2] is None
    assert rows[1][6] == "行政审批服务局综合科"
    assert _reads(server) == []

    r = server.client.get(
        LEDGER,
        params={"kind": "cannot_do", "from": "2026-10-02", "to": "2026-10-31"},
        headers=admin,
    )
    title, rows = _sheet(r.content)
    assert title == "办不成事登记台账" and [row[0] for row in rows[1:]] == ["BC202600002"]
    assert (
        'filename="ledger-H1-cannot_do-2026-10-02-2026-10-31.xlsx"'
        in r.headers["content-disposition"]
    )

    # A city admin (PHONE_ROLES) gets the numbers in full, each one audited.
    r = server.client.get(LEDGER, params={"hall": "H1", "kind": "cannot_do"}, headers=server.admin)
    assert r.status_code == 200, r.text
    _, rows = _sheet(r.content)
    assert [row[2] for row in rows[1:]] == [PHONE, None]
    assert _reads(server) == [("root", "city_admin", "ledger", "BC202600001")]
