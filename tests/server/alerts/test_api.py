"""/api/v1/alerts and /api/v1/alert-targets: role scope, filters, read marks, and 4xx errors
that change nothing (docs/api.md "Alerts")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.alerts.enqueue import case_alert
from server.db import make_engine, make_sessionmaker
from server.models import User
from server.models.cases import Alert, AlertTarget
from server.security import hash_password
from tests.server.alerts.fixtures import NOW, add_case, add_hall, add_target, policy
from tests.server.conftest import Server, serve
from tests.support.migrated import MigratedTemplates


@pytest.fixture
def api(
    sqlite_url: str,
    migrated_templates: MigratedTemplates,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Server, sessionmaker[Session]]]:
    monkeypatch.setenv("HALLRATE_ALERTS_DELIVER", "0")  # these tests read, they do not deliver
    migrated_templates.migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    for server in serve(sqlite_url, tmp_path):
        r = server.client.post("/api/v1/halls", json={"code": "H2"}, headers=server.admin)
        assert r.status_code == 201, r.text
        yield server, make_sessionmaker(engine)
    engine.dispose()


def _user(
    api: tuple[Server, sessionmaker[Session]], username: str, role: str, hall_id: int | None = 1
) -> dict[str, str]:
    """A user of ``role`` (written directly: the users API may not offer ``handler`` yet)."""
    server, sessions = api
    password = f"{username}-password-1"
    with sessions() as session:
        session.add(
            User(
                username=username,
                password_hash=hash_password(password),
                role=role,
                hall_id=hall_id,
            )
        )
        session.commit()
    return server.login(username, password)


def _seed(sessions: sessionmaker[Session]) -> dict[str, int]:
    """H1: a bad_rating (dashboard + webhook) and a red complaint (dashboard + webhook);
    H2: a bad_rating (dashboard)."""
    conf = policy(quiet_hours="")
    with sessions() as session:
        h1, h2 = add_hall(session, "H1"), add_hall(session, "H2")
        add_target(session, h1, "webhook", "http://127.0.0.1:9/hook")
        c1 = add_case(session, h1)
        c2 = add_case(session, h1, kind="complaint")
        c3 = add_case(session, h2)
        case_alert(session, conf, c1, "bad_rating", now=NOW)
        case_alert(session, conf, c2, "red", now=NOW)
        case_alert(session, conf, c3, "bad_rating", now=NOW)
        session.commit()
        return {"c1": c1.id, "c2": c2.id, "c3": c3.id}


def _get(server: Server, headers: dict[str, str], query: str = "") -> Any:
    return server.client.get(f"/api/v1/alerts{query}", headers=headers)


def test_list_is_scoped_by_role(api: tuple[Server, sessionmaker[Session]]) -> None:
    server, sessions = api
    ids = _seed(sessions)
    r = _get(server, server.admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert {a["hall"] for a in body["items"]} == {"H1", "H2"}
    assert body["unread"] == 3
    assert [a["id"] for a in body["items"]] == sorted(
        (a["id"] for a in body["items"]), reverse=True
    )
    for role in ("hall_admin", "handler", "viewer"):
        headers = _user(api, f"u-{role}", role)
        r = _get(server, headers)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert {a["hall"] for a in items} == {"H1"} and len(items) == 4
        assert r.json()["unread"] == 2
        r = _get(server, headers, "?hall=H2")
        assert r.status_code == 403
        assert r.json()["detail"] == "this account may only see its own hall"
    agent = _user(api, "u-agent", "agent")
    r = _get(server, agent)
    assert (r.status_code, r.json()["detail"]) == (403, "role agent may not read alerts")
    assert server.client.get("/api/v1/alerts").status_code == 401
    first = body["items"][-1]
    assert first["case_id"] == ids["c1"] and first["link"] == f"/cases/{ids['c1']}"
    assert first["title"] == "差评提醒: A03窗口 张三 不满意 (票号 A012)"
    assert first["title_en"].startswith("Bad rating: window A03")


def test_filters_and_pages(api: tuple[Server, sessionmaker[Session]]) -> None:
    server, sessions = api
    ids = _seed(sessions)

    def items(query: str) -> list[dict[str, Any]]:
        r = _get(server, server.admin, query)
        assert r.status_code == 200, r.text
        return list(r.json()["items"])

    assert {(a["channel"], a["state"]) for a in items("?channel=webhook")} == {
        ("webhook", "pending")
    }
    assert len(items("?state=pending")) == 2
    assert [a["event"] for a in items("?event=red")] == ["red", "red"]
    assert {a["case_id"] for a in items(f"?case={ids['c3']}")} == {ids["c3"]}
    assert len(items("?hall=H2")) == 1
    assert {a["channel"] for a in items("?unread=1")} == {"dashboard"}
    page1 = _get(server, server.admin, "?limit=2").json()
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = _get(server, server.admin, f"?limit=2&cursor={page1['next_cursor']}").json()
    assert {a["id"] for a in page2["items"]}.isdisjoint({a["id"] for a in page1["items"]})
    for query, status in [
        ("?state=lost", 422),
        ("?event=green", 422),
        ("?channel=fax", 422),
        ("?limit=0", 422),
        ("?limit=501", 422),
        ("?cursor=abc", 400),
        ("?hall=NOPE", 404),
        ("?case=0", 422),
    ]:
        r = _get(server, server.admin, query)
        assert r.status_code == status, (query, r.text)
        assert r.json()["detail"]


def test_marking_read(api: tuple[Server, sessionmaker[Session]]) -> None:
    server, sessions = api
    _seed(sessions)
    admin1 = _user(api, "admin1", "hall_admin")
    viewer = _user(api, "viewer1", "viewer")
    unread = _get(server, admin1, "?unread=1").json()["items"]
    assert len(unread) == 2
    first = unread[0]["id"]
    r = server.client.post(f"/api/v1/alerts/{first}/read", headers=admin1)
    assert r.status_code == 200, r.text
    assert r.json()["read_by"] == "admin1"
    again = server.client.post(f"/api/v1/alerts/{first}/read", headers=server.admin)
    assert again.json()["read_by"] == "admin1"  # the first reader is kept
    assert _get(server, admin1, "?unread=1").json()["unread"] == 1
    h2 = _get(server, server.admin, "?hall=H2").json()["items"][0]["id"]
    hook = _get(server, server.admin, "?channel=webhook").json()["items"][0]["id"]
    for alert_id, headers, status, detail in [
        (h2, admin1, 403, "this account may only see its own hall"),
        (hook, admin1, 409, f"alert {hook} is a webhook alert, not a notification"),
        (999999, admin1, 404, "no alert 999999"),
        (first, viewer, 403, "role viewer may not mark alerts read"),
    ]:
        r = server.client.post(f"/api/v1/alerts/{alert_id}/read", headers=headers)
        assert (r.status_code, r.json()["detail"]) == (status, detail)
    r = server.client.post("/api/v1/alerts/read", json={"hall": "H2"}, headers=admin1)
    assert r.status_code == 403
    r = server.client.post("/api/v1/alerts/read", json={}, headers=admin1)
    assert r.json() == {"marked": 1}
    assert _get(server, server.admin).json()["unread"] == 1  # H2's is still unread
    r = server.client.post("/api/v1/alerts/read", json={"hall": "H2"}, headers=server.admin)
    assert r.json() == {"marked": 1}


def _targets(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AlertTarget)) or 0)


def test_targets_crud_and_refusals(api: tuple[Server, sessionmaker[Session]]) -> None:
    server, sessions = api
    admin1 = _user(api, "admin1", "hall_admin")
    viewer = _user(api, "viewer1", "viewer")
    secret = "whsec-0123456789abcdef"
    r = server.client.post(
        "/api/v1/alert-targets",
        json={
            "hall": "H1",
            "channel": "webhook",
            "address": "https://ops.example.cn/hallrate",
            "secret": secret,
            "name": "值班长",
        },
        headers=admin1,
    )
    assert r.status_code == 201, r.text
    hook = r.json()
    assert secret not in r.text
    assert (hook["secret_set"], hook["secret_hint"]) == (True, "…cdef")
    r = server.client.post(
        "/api/v1/alert-targets",
        json={"hall": "H1", "channel": "sms", "address": "13800001234"},
        headers=admin1,
    )
    assert r.status_code == 201, r.text
    sms = r.json()
    assert sms["secret_hint"] is None
    listed = server.client.get("/api/v1/alert-targets", headers=admin1).json()["items"]
    assert [t["id"] for t in listed] == [hook["id"], sms["id"]]
    assert secret not in str(listed)
    before = _targets(sessions)
    bad: list[tuple[dict[str, Any], dict[str, str], int, str]] = [
        (
            {"hall": "H1", "channel": "webhook", "address": "ftp://x.cn/a"},
            admin1,
            422,
            "webhook URL 'ftp://x.cn/a' is not an http:// or https:// URL with a host "
            "and no spaces",
        ),
        (
            {"hall": "H1", "channel": "webhook", "address": "https://u:p@x.cn/a"},
            admin1,
            422,
            "webhook URL may not hold a user name or password; use a secret",
        ),
        (
            {"hall": "H1", "channel": "sms", "address": "1380000123"},
            admin1,
            422,
            "mobile number '1380000123' is not 11 digits starting 13-19 (e.g. 13800001234)",
        ),
        (
            {"hall": "H1", "channel": "sms", "address": "13800001235", "secret": "x"},
            admin1,
            422,
            "only a webhook target has a secret",
        ),
        (
            {"hall": "H1", "channel": "sms", "address": "13800001234"},
            admin1,
            409,
            "hall H1 already has the sms target 13800001234",
        ),
        (
            {"hall": "H2", "channel": "sms", "address": "13800001234"},
            admin1,
            403,
            "this account may only see its own hall",
        ),
        (
            {"hall": "H1", "channel": "sms", "address": "13800001236"},
            viewer,
            403,
            "role viewer is read-only",
        ),
        (
            {"hall": "NOPE", "channel": "sms", "address": "13800001236"},
            server.admin,
            404,
            "unknown hall 'NOPE'",
        ),
    ]
    for body, headers, status, detail in bad:
        r = server.client.post("/api/v1/alert-targets", json=body, headers=headers)
        assert (r.status_code, r.json()["detail"]) == (status, detail), body
    r = server.client.post(
        "/api/v1/alert-targets",
        json={"hall": "H1", "channel": "email", "address": "a@b.cn"},
        headers=admin1,
    )
    assert r.status_code == 422
    assert _targets(sessions) == before
    # Change, then remove.
    r = server.client.patch(
        f"/api/v1/alert-targets/{hook['id']}", json={"active": False, "secret": ""}, headers=admin1
    )
    assert r.status_code == 200, r.text
    assert (r.json()["active"], r.json()["secret_set"]) == (False, False)
    r = server.client.patch(
        f"/api/v1/alert-targets/{sms['id']}", json={"address": "12345"}, headers=admin1
    )
    assert r.status_code == 422
    r = server.client.patch(
        f"/api/v1/alert-targets/{sms['id']}", json={"active": False}, headers=viewer
    )
    assert r.status_code == 403
    h2 = server.client.post(
        "/api/v1/alert-targets",
        json={"hall": "H2", "channel": "sms", "address": "13900001234"},
        headers=server.admin,
    ).json()
    assert (
        server.client.delete(f"/api/v1/alert-targets/{h2['id']}", headers=admin1).status_code == 403
    )
    assert (
        server.client.delete(f"/api/v1/alert-targets/{sms['id']}", headers=admin1).status_code
        == 204
    )
    r = server.client.delete(f"/api/v1/alert-targets/{sms['id']}", headers=admin1)
    assert (r.status_code, r.json()["detail"]) == (404, f"no alert target {sms['id']}")
    listed = server.client.get("/api/v1/alert-targets", headers=server.admin).json()["items"]
    assert [(t["hall"], t["address"], t["active"]) for t in listed] == [
        ("H1", "https://ops.example.cn/hallrate", False),
        ("H2", "13900001234", True),
    ]


def test_removing_a_target_keeps_its_alerts(api: tuple[Server, sessionmaker[Session]]) -> None:
    server, sessions = api
    _seed(sessions)
    with sessions() as session:
        target_id = session.scalars(select(AlertTarget.id)).one()
    r = server.client.delete(f"/api/v1/alert-targets/{target_id}", headers=server.admin)
    assert r.status_code == 204
    with sessions() as session:
        hooks = list(session.scalars(select(Alert).where(Alert.channel == "webhook")))
    assert len(hooks) == 2 and {a.target_id for a in hooks} == {None}
