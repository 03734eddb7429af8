"""Acceptance review of issue #18 (docs/cases.md, docs/api.md): bad request bodies of the case and
alert routes are a 4xx with the documented message and change nothing, on SQLite and
PostgreSQL. Regressions: a lone surrogate in a JSON body was a 500; a misspelt key of a case
body (``verison``, ``notes``) was silently ignored; the alert targets' length refusals were
pydantic's, not docs/cases.md "Targets"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.alerts.enqueue import case_alert
from server.models import AlertTarget, Case, CaseEvent
from server.policy import Policy
from tests.server.conftest import Server, evaluation, serve


@pytest.fixture
def api(migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("HALLRATE_CASES_TICK_SECONDS", "0")
    monkeypatch.setenv("HALLRATE_ALERTS_DELIVER", "false")
    yield from serve(migrated_url, tmp_path)


def _counts(server: Server) -> tuple[int, int, int]:
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        return tuple(  # type: ignore[return-value]
            s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Case, CaseEvent, AlertTarget)
        )


def _raw(server: Server, method: str, path: str, body: bytes) -> tuple[int, str]:
    headers = {**server.admin, "Content-Type": "application/json"}
    r = server.client.request(method, path, content=body, headers=headers)
    return r.status_code, r.json()["detail"]


def test_lone_surrogate_is_a_422_not_a_500(api: Server) -> None:
    opened = api.client.post(
        "/api/v1/cases",
        json={"hall": "H1", "kind": "complaint", "fields": {"content": "排队太久"}},
        headers=api.admin,
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    before = _counts(api)
    lone = b'"\\ud800"'
    bodies = [
        ("POST", "/api/v1/cases", b'{"hall": "H1", "kind": "complaint", "fields": {"content": '),
        ("POST", f"/api/v1/cases/{case_id}/actions", b'{"action": "note", "note": '),
        ("POST", "/api/v1/alert-targets", b'{"hall": "H1", "channel": "sms", "address": '),
    ]
    for method, path, head in bodies:
        tail = b"}}" if path == "/api/v1/cases" else b"}"
        status, detail = _raw(api, method, path, head + lone + tail)
        assert status == 422 and detail.endswith("JSON decode error"), (path, detail)
    assert _counts(api) == before


def test_unknown_keys_of_case_bodies_are_refused(api: Server) -> None:
    r = api.client.post(
        "/api/v1/cases",
        json={"hall": "H1", "kind": "complaint", "fields": {"content": "x"}, "catgory": "simple"},
        headers=api.admin,
    )
    assert r.status_code == 422
    assert r.json()["detail"] == "catgory: Extra inputs are not permitted"
    opened = api.client.post(
        "/api/v1/cases",
        json={"hall": "H1", "kind": "complaint", "fields": {"content": "x"}},
        headers=api.admin,
    ).json()
    before = _counts(api)
    # A misspelt version would skip the stale-version check: refused, nothing changes.
    r = api.client.post(
        f"/api/v1/cases/{opened['id']}/actions",
        json={"action": "note", "note": "看过", "verison": 99},
        headers=api.admin,
    )
    assert r.status_code == 422
    assert r.json()["detail"] == "verison: Extra inputs are not permitted"
    # Any unknown action, however long, gets the documented message.
    r = api.client.post(
        f"/api/v1/cases/{opened['id']}/actions", json={"action": "x" * 40}, headers=api.admin
    )
    assert r.status_code == 422
    assert r.json()["detail"] == (
        f"unknown action '{'x' * 40}'; actions are assign, start, return, reply, callback, "
        "close, extend, note"
    )
    assert _counts(api) == before


def test_target_refusals_have_the_documented_messages(api: Server) -> None:
    def post(**body: object) -> tuple[int, str]:
        r = api.client.post("/api/v1/alert-targets", json={"hall": "H1", **body}, headers=api.admin)
        return r.status_code, r.json()["detail"]

    long_url = "http://example.org/" + "a" * 600
    assert post(channel="webhook", address=long_url) == (
        422,
        "webhook URL is longer than 512 characters",
    )
    assert post(channel="sms", address="13800001234", name="n" * 65) == (
        422,
        "name is longer than 64 characters",
    )
    assert post(channel="webhook", address="http://example.org/", secret="s" * 129) == (
        422,
        "secret is longer than 128 characters",
    )
    ok = api.client.post(
        "/api/v1/alert-targets",
        json={"hall": "H1", "channel": "sms", "address": "13800001234"},
        headers=api.admin,
    )
    assert ok.status_code == 201, ok.text
    r = api.client.patch(
        f"/api/v1/alert-targets/{ok.json()['id']}", json={"name": "n" * 65}, headers=api.admin
    )
    assert (r.status_code, r.json()["detail"]) == (422, "name is longer than 64 characters")
    assert _counts(api)[2] == 1


def test_mark_all_read_without_a_body(api: Server) -> None:
    """docs/api.md: the body's hall is optional, so is the body (every hall of the caller)."""
    opened = api.client.post(
        "/api/v1/cases",
        json={"hall": "H1", "kind": "complaint", "fields": {"content": "x"}},
        headers=api.admin,
    )
    assert opened.status_code == 201
    with api.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        case = s.get(Case, opened.json()["id"])
        assert case is not None
        now = case.opened_at
        case_alert(s, Policy(), case, "red", now=now)
        s.commit()
    r = api.client.post("/api/v1/alerts/read", headers=api.admin)
    assert (r.status_code, r.json()) == (200, {"marked": 1})
    assert api.client.get("/api/v1/alerts", headers=api.admin).json()["unread"] == 0


def test_allowed_actions_offer_close_from_accepted_only_when_the_rating_no_longer_counts(
    api: Server,
) -> None:
    """The pages offer allowed_actions: a counted 差评's case in 受理 must not offer 办结 (the
    action would be refused with 409); once the appeal excludes the rating, it does."""
    assert api.ingest([evaluation("EV-A03:9:1", level="dissatisfied")])["accepted"] == 1
    listed = api.client.get("/api/v1/cases?kind=bad_rating", headers=api.admin).json()["items"]
    case = listed[0]
    assert case["state"] == "accepted"
    assert case["allowed_actions"] == ["assign", "callback", "extend", "note"]
    r = api.client.patch(
        f"/api/v1/evaluations/{case['evaluation_id']}",
        json={"excluded": True, "reason": "申诉复核: 恶意差评"},
        headers=api.admin,
    )
    assert r.status_code == 200, r.text
    case = api.client.get(f"/api/v1/cases/{case['id']}", headers=api.admin).json()
    assert case["allowed_actions"] == ["assign", "callback", "close", "extend", "note"]
