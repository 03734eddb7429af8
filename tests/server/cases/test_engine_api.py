"""/api/v1/cases on SQLite and PostgreSQL: roles, bad input (4xx with a message, nothing
changed), paging; bad_rating cases opened by 差评 of the gateway (evaluator), SMS and online
channels through the one ingest store, idempotently; 申诉复核 appeals through
PATCH /api/v1/evaluations/{id}."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Alert, Case, CaseEvent, Department, Hall, User
from server.security import hash_password
from tests.server.conftest import Server, evaluation, serve
from tests.server.online_fixtures import DAY, add_ticket, at, link, rate, set_clock

SMS_TOKEN = "sms-callback-token-for-case-tests-0123456789"
PASSWORD = "case-test-password"


@pytest.fixture
def api(migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("HALLRATE_SMS_CALLBACK_TOKEN", SMS_TOKEN)
    monkeypatch.setenv("HALLRATE_CASES_TICK_SECONDS", "0")  # flags only when a test ticks
    yield from serve(migrated_url, tmp_path)


def _session(server: Server) -> Session:
    return server.client.app.state.sessionmaker()  # type: ignore[attr-defined,no-any-return]


def _users(server: Server) -> dict[str, dict[str, str]]:
    """Hall H2, departments SB and BDC of H1, and one user per role; their auth headers."""
    with _session(server) as s:
        h1 = s.scalars(select(Hall).where(Hall.code == "H1")).one()
        h2 = Hall(code="H2", name="H2")
        sb = Department(hall_id=h1.id, code="SB", name="社保科")
        bdc = Department(hall_id=h1.id, code="BDC", name="不动产")
        s.add_all([h2, sb, bdc])
        s.flush()
        people = {
            "h1admin": ("hall_admin", h1.id, None),
            "h2admin": ("hall_admin", h2.id, None),
            "viewer": ("viewer", h1.id, None),
            "agent": ("agent", h1.id, None),
            "handler": ("handler", h1.id, None),
            "handler_sb": ("handler", h1.id, sb.id),
        }
        for name, (role, hall_id, dept) in people.items():
            s.add(
                User(
                    username=name,
                    password_hash=hash_password(PASSWORD),
                    role=role,
                    hall_id=hall_id,
                    department_id=dept,
                )
            )
        s.commit()
    out = {name: server.login(name, PASSWORD) for name in people}
    out["root"] = server.admin
    return out


def _counts(server: Server) -> tuple[int, int]:
    with _session(server) as s:
        return (
            s.scalar(select(func.count()).select_from(Case)) or 0,
            s.scalar(select(func.count()).select_from(CaseEvent)) or 0,
        )


def _act(
    server: Server, who: dict[str, str], case: dict[str, Any], action: str, **body: Any
) -> Any:
    body = {"action": action, "version": case["version"], **body}
    return server.client.post(f"/api/v1/cases/{case['id']}/actions", json=body, headers=who)


def test_cases_api_roles_input_and_paging(api: Server) -> None:
    u = _users(api)
    c = api.client
    body = {
        "kind": "complaint",
        "fields": {"content": "叫号系统故障无人处理", "phone": "13812345678", "source": "电话"},
    }
    assert c.post("/api/v1/cases", json=body, headers=u["viewer"]).status_code == 403
    assert c.post("/api/v1/cases", json=body, headers=u["agent"]).status_code == 403
    r = c.post("/api/v1/cases", json=body, headers=u["h1admin"])
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["number"].startswith("TS") and case["hall"] == "H1"
    assert case["phone"] == "138****5678" and case["trail"][0]["action"] == "open"
    assert (
        c.post("/api/v1/cases", json={**body, "hall": "H1"}, headers=u["h2admin"]).status_code
        == 403
    )

    # Bad input: a 4xx with a message, nothing stored.
    before = _counts(api)
    for bad, status, message in [
        ({"kind": "complaint", "fields": {}}, 422, "needs content"),
        ({"kind": "complaint", "fields": {"content": "x", "phone": "abc"}}, 422, "phone must be"),
        ({"kind": "cannot_do", "fields": {"content": "x"}}, 422, "needs category"),
        ({"kind": "bad_rating", "fields": {"content": "x"}}, 422, "kind"),
        ({"kind": "complaint", "hall": "NOPE", "fields": {"content": "x"}}, 404, "unknown hall"),
        ({"kind": "complaint", "fields": {"content": {"a": 1}}}, 422, "must be text"),
    ]:
        r = c.post("/api/v1/cases", json=bad, headers=u["h1admin"])
        assert r.status_code == status and message in r.json()["detail"], (bad, r.text)
    assert c.post("/api/v1/cases", json=body, headers=u["root"]).status_code == 422  # no hall
    assert _counts(api) == before

    # Reading: the other hall sees nothing; a viewer reads.
    assert c.get(f"/api/v1/cases/{case['id']}", headers=u["h2admin"]).status_code == 404
    assert c.get("/api/v1/cases", headers=u["h2admin"]).json()["total"] == 0
    assert c.get(f"/api/v1/cases/{case['id']}", headers=u["viewer"]).status_code == 200

    # Acting: viewer and agent may not; the department's handler only once assigned to it.
    for who, message in [("viewer", "may read cases"), ("agent", "only record the callback")]:
        r = _act(api, u[who], case, "assign", fields={"assignee_department": "SB"})
        assert r.status_code == 403 and message in r.json()["detail"]
    r = _act(api, u["handler_sb"], case, "assign", fields={"assignee_department": "SB"})
    assert r.status_code == 403 and "assigned to its department" in r.json()["detail"]
    r = _act(api, u["handler"], case, "assign", fields={"assignee_department": "BDC"})
    assert r.status_code == 200, r.text
    case = r.json()
    assert _act(api, u["handler_sb"], case, "start").status_code == 403
    case = _act(api, u["h1admin"], case, "assign", fields={"assignee_department": "SB"}).json()
    stale = dict(case, version=case["version"] - 1)
    r = _act(api, u["handler_sb"], stale, "start")
    assert r.status_code == 409 and "reload it" in r.json()["detail"]
    for bad, status, message in [
        ({"action": "return"}, 422, "needs a reason"),
        ({"action": "fly"}, 422, "unknown action"),
        ({"action": "close", "note": "x"}, 409, "cannot close"),
        ({"action": "note", "note": "x", "fields": {"colour": 1}}, 422, "cannot set colour"),
        ({"action": "note", "note": "x", "version": 0}, 422, "version"),
    ]:
        r = c.post(
            f"/api/v1/cases/{case['id']}/actions",
            json={"version": case["version"], **bad},
            headers=u["handler_sb"],
        )
        assert r.status_code == status and message in r.json()["detail"], (bad, r.text)
    r = _act(api, u["handler_sb"], case, "start", note="开始办理")
    assert r.status_code == 200 and r.json()["state"] == "handling"
    assert [e["action"] for e in r.json()["trail"]][-1] == "start"

    # The phone: unmasked for an agent (audited in the trail), never for a viewer.
    assert c.get(f"/api/v1/cases/{case['id']}/phone", headers=u["viewer"]).status_code == 403
    r = c.get(f"/api/v1/cases/{case['id']}/phone?purpose=回访", headers=u["agent"])
    assert r.status_code == 200 and r.json()["phone"] == "13812345678"
    assert r.headers["cache-control"] == "no-store"
    trail = c.get(f"/api/v1/cases/{case['id']}", headers=u["viewer"]).json()["trail"]
    assert (trail[-1]["action"], trail[-1]["actor"], trail[-1]["note"]) == (
        "phone",
        "agent",
        "回访",
    )

    # The list: filters and paging, newest first.
    for i in range(2):
        more = {"kind": "cannot_do", "category": "general", "fields": {"content": f"事项{i}"}}
        assert c.post("/api/v1/cases", json=more, headers=u["handler"]).status_code == 201
    page = c.get("/api/v1/cases?limit=2", headers=u["viewer"]).json()
    assert page["total"] == 3 and [x["kind"] for x in page["items"]] == ["cannot_do"] * 2
    rest = c.get(f"/api/v1/cases?limit=2&cursor={page['next_cursor']}", headers=u["viewer"])
    assert [x["id"] for x in rest.json()["items"]] == [case["id"]]
    assert rest.json()["next_cursor"] is None
    q = "/api/v1/cases?hall=H1&kind=complaint&state=handling&from=2020-01-01&to=2099-01-01"
    assert c.get(q, headers=u["root"]).json()["total"] == 1
    assert (
        c.get("/api/v1/cases?hall=H1&assignee_department=SB", headers=u["root"]).json()["total"]
        == 1
    )
    for bad_query, status in [
        ("state=lost", 422),
        ("flag=purple", 422),
        ("cursor=abc", 400),
        ("limit=0", 422),
        ("from=yesterday", 422),
        ("assignee_department=SB", 400),
        ("hall=H1&assignee_department=XX", 404),
    ]:
        r = c.get(f"/api/v1/cases?{bad_query}", headers=u["root"])
        assert r.status_code == status and r.json()["detail"], bad_query
    assert c.get("/api/v1/cases/abc", headers=u["root"]).status_code == 404
    assert c.get("/api/v1/cases/999999", headers=u["root"]).status_code == 404
    assert c.get("/api/v1/cases", headers={}).status_code == 401


def _bad_rating_cases(server: Server) -> list[dict[str, Any]]:
    r = server.client.get("/api/v1/cases?kind=bad_rating&limit=500", headers=server.admin)
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["items"]))


def _sms_reply(server: Server, out_id: str, number: str, text: str, pushes: int) -> None:
    """A ticket with a phone, its rating text (the outbox row), and the citizen's reply
    pushed by the platform (POST /api/v1/sms/replies/aliyun) ``pushes`` times."""
    from tests.server.sms.test_reply_intake import MON, _push, _text, at, smsup

    _text(server, out_id, number, "A01", MON)
    for _ in range(pushes):
        r = _push(server, [smsup(text, at(0, 18, 1), seq=1)], token=SMS_TOKEN)
        assert r.status_code == 200 and r.json()["code"] == 0, r.text


def test_bad_ratings_of_every_channel_open_one_case_each(api: Server) -> None:
    u = _users(api)
    # Evaluator 差评 through the gateway: one case each, re-sent batches open nothing more.
    records = [
        evaluation("EV-A03:1:1", level="dissatisfied"),
        evaluation("EV-A03:1:2", level="very_dissatisfied"),
        evaluation("EV-A03:1:3", level="satisfied"),
        evaluation("EV-A03:1:4", level="dissatisfied", flags=["misuse"]),  # not counted
    ]
    assert api.ingest(records)["accepted"] == 4
    assert api.ingest(records)["duplicates"] == 4
    cases = _bad_rating_cases(api)
    assert [(x["origin"], x["level"], x["channel"], x["window"]) for x in cases] == [
        ("rating", "dissatisfied", "evaluator", "A03"),
        ("rating", "very_dissatisfied", "evaluator", "A03"),
    ]
    assert cases[0]["first_due"] and cases[0]["due"] and cases[0]["state"] == "accepted"
    # SMS: a reply "4" (不满意) through the platform's push.
    _sms_reply(api, "out-1", "A101", "4", pushes=2)  # the platform pushes it twice
    # Online: the citizen's rating form.
    set_clock(api, at(DAY, 16))
    add_ticket(api, "A201")
    token = str(link(api, "A201")["token"])
    assert rate(api, token, "very_dissatisfied", step="first").status_code == 303
    assert rate(api, token, "very_dissatisfied", step="first").status_code == 303  # re-sent
    cases = _bad_rating_cases(api)
    assert [x["channel"] for x in cases] == ["evaluator", "evaluator", "sms", "online"]
    assert [x["ticket"] for x in cases[2:]] == ["A101", "A201"]
    with _session(api) as s:  # each opening alerted the duty manager (dashboard)
        alerts = s.scalars(select(Alert.case_id).where(Alert.event == "bad_rating")).all()
    assert sorted(alerts) == sorted(x["id"] for x in cases)

    # 申诉复核: the misuse-flagged 差评 restored by the city admin counts now: a case opens,
    # marked as opened by the appeal, with the review in its trail.
    evs = api.client.get("/api/v1/evaluations?hall=H1&channel=evaluator", headers=api.admin)
    by_key = {e["key"]: e for e in evs.json()["items"]}
    flagged = by_key["EV-A03:1:4"]
    r = api.client.patch(
        f"/api/v1/evaluations/{flagged['id']}",
        json={"flags": [], "reason": "申诉复核: 误判为误触"},
        headers=u["root"],
    )
    assert r.status_code == 200 and r.json()["counted"] is True, r.text
    appealed = _bad_rating_cases(api)[-1]
    assert (appealed["evaluation_id"], appealed["origin"]) == (flagged["id"], "appeal")
    full = api.client.get(f"/api/v1/cases/{appealed['id']}", headers=u["viewer"]).json()
    assert full["trail"][-1]["note"] == "申诉复核 appeal: 申诉复核: 误判为误触"
    assert full["appeal"]["counted"] is True

    # An appeal that excludes a counted 差评 attaches to its case; the case may then be closed
    # from 受理 with a note (before the exclusion it may not).
    first = _bad_rating_cases(api)[0]
    r = _act(api, u["h1admin"], first, "close", note="申诉成立")
    assert r.status_code == 409 and "no longer counts" in r.json()["detail"]
    r = api.client.patch(
        f"/api/v1/evaluations/{first['evaluation_id']}",
        json={"excluded": True, "reason": "申诉复核: 恶意差评"},
        headers=u["h1admin"],
    )
    assert r.status_code == 200 and r.json()["counted"] is False
    first = api.client.get(f"/api/v1/cases/{first['id']}", headers=u["h1admin"]).json()
    assert first["origin"] == "rating" and first["appeal"]["excluded"] is True
    r = _act(api, u["h1admin"], first, "close", note="申诉成立, 差评已剔除")
    assert r.status_code == 200 and r.json()["state"] == "closed"
    assert len(_bad_rating_cases(api)) == 5

    # The agent records the call-back of a bad_rating case, nothing else.
    second = _bad_rating_cases(api)[1]
    r = _act(api, u["agent"], second, "callback", fields={"feedback": "dissatisfied"})
    assert r.status_code == 200 and r.json()["called_back_at"], r.text
    r = _act(api, u["agent"], r.json(), "assign", fields={"assignee_department": "SB"})
    assert r.status_code == 403
