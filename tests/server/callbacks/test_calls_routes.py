"""The call-back routes (docs/api.md "Phone call-backs") on SQLite and PostgreSQL: dispositions,
queue, entries, reveal (audited), attempts (201/200/409/422) and PATCH (assign, withdraw)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from server.db import make_engine, make_sessionmaker
from server.models import CallbackAttempt, Evaluation, PhoneRead
from tests.server.callbacks.fixtures_calls import (
    add_entry,
    add_ticket,
    add_user,
    add_worklist,
    hall_with_desk,
    phone,
)
from tests.server.conftest import Server, serve


@dataclass
class Calls:
    server: Server
    entries: list[int]  # H1: planned (ag1), planned (ag1), planned (nobody); H2: planned
    agent: dict[str, str]
    other_agent: dict[str, str]  # agent of H2 only
    hall_admin: dict[str, str]
    viewer: dict[str, str]

    def count(self, model: type) -> int:
        engine = make_engine(self.server.settings.resolved_database_url)
        try:
            with make_sessionmaker(engine)() as s:
                return int(s.scalar(select(func.count()).select_from(model)) or 0)
        finally:
            engine.dispose()


@pytest.fixture
def calls(migrated_url: str, tmp_path: Path) -> Iterator[Calls]:
    for server in serve(migrated_url, tmp_path):
        engine = make_engine(migrated_url)
        cipher = server.settings.phone_cipher
        with make_sessionmaker(engine)() as s:
            desk = hall_with_desk(s, "H1", ("A03",))
            desk2 = hall_with_desk(s, "H2", ("A03",))
            agent = add_user(s, "ag1", hall=desk.hall)
            add_user(s, "ag1b", hall=desk.hall)
            add_user(s, "ag2", hall=desk2.hall)
            add_user(s, "ha1", "hall_admin", desk.hall)
            add_user(s, "vw1", "viewer", desk.hall)
            wl, wl2 = add_worklist(s, desk), add_worklist(s, desk2)
            ids = []
            for i in range(3):
                t = add_ticket(s, cipher, desk, f"A{i:03d}", phone(i))
                ids.append(add_entry(s, wl, t, position=i, agent=agent if i < 2 else None).id)
            t2 = add_ticket(s, cipher, desk2, "A100", phone(100))
            ids.append(add_entry(s, wl2, t2, position=0).id)
            s.commit()
        engine.dispose()
        yield Calls(
            server,
            ids,
            server.login("ag1", "ag1-password-1"),
            server.login("ag2", "ag2-password-1"),
            server.login("ha1", "ha1-password-1"),
            server.login("vw1", "vw1-password-1"),
        )


def _post(c: Calls, entry_id: int, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return c.server.client.post(
        f"/api/v1/callbacks/entries/{entry_id}/attempts", json=body, headers=headers
    )


def test_dispositions_list_codes_levels_reasons(calls: Calls) -> None:
    r = calls.server.client.get("/api/v1/callbacks/dispositions", headers=calls.viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    codes = {d["code"]: (d["zh"], d["final"], d["aapor"]) for d in body["dispositions"]}
    assert codes["completed"] == ("有效", True, "I")
    assert codes["no_answer"] == ("无人接听", False, "NC")
    assert [lv["zh"] for lv in body["levels"]][:2] == ["非常满意", "满意"]
    assert body["max_attempts"] == 3 and body["call_hours"] == "09:00-12:00,14:00-17:30"
    assert "效率低" in body["reasons"]


def test_completed_call_becomes_the_phone_rate_and_a_retry_is_200(calls: Calls) -> None:
    c, e = calls, calls.entries[0]
    body = {"attempt_key": "page-1", "disposition": "completed", "level": "very_satisfied"}
    r = _post(c, e, body, c.agent)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["evaluation_key"] == f"callback:{e}"
    assert out["entry"]["state"] == "completed" and out["entry"]["attempts"] == 1
    assert out["attempt"]["username"] == "ag1" and out["attempt"]["via"] == "agent"
    r = _post(c, e, body, c.agent)
    assert r.status_code == 200, r.text
    assert r.json()["attempt"]["id"] == out["attempt"]["id"]
    assert c.count(CallbackAttempt) == 1 and c.count(Evaluation) == 1

    r = c.server.client.get(
        "/api/v1/evaluations", params={"hall": "H1", "channel": "phone"}, headers=c.server.admin
    )
    (ev,) = r.json()["items"]
    assert (ev["source"], ev["window"], ev["ticket"]) == ("callback:ag1", "A03", "A000")
    assert (ev["staff"], ev["time_source"], ev["level"]) == ("H1-1001", "server", "very_satisfied")
    r = c.server.client.get(
        "/api/v1/scores", params={"hall": "H1", "period": "2026"}, headers=c.server.admin
    )
    phone_rate = r.json()["result"]["channels"]["phone"]
    assert (phone_rate["total"], phone_rate["satisfied"]) == (1, 1)

    r = _post(c, e, {**body, "attempt_key": "page-2"}, c.agent)
    assert r.status_code == 409 and "PATCH /api/v1/evaluations/{id}" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"disposition": "completed"}, "a completed call needs level"),
        ({"disposition": "busy", "level": "satisfied"}, "level is only for a completed call"),
        ({"disposition": "voicemail"}, "unknown disposition 'voicemail'"),
    ],
)
def test_bad_attempts_are_422(calls: Calls, body: dict[str, Any], message: str) -> None:
    r = _post(calls, calls.entries[0], {"attempt_key": "k1", **body}, calls.agent)
    assert r.status_code == 422 and message in r.json()["detail"], r.text
    assert calls.count(CallbackAttempt) == 0


def test_queue_entry_and_attempts(calls: Calls) -> None:
    c = calls
    r = c.server.client.get("/api/v1/callbacks/queue", headers=c.agent)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == c.entries[:2]  # its own, by position
    first = items[0]
    assert first["phone_masked"] == "138****0000" and first["agent"] == "ag1"
    assert (
        "在A03窗口办理了“营业执照办理”" in first["script"] and "2026年11月20日" in first["script"]
    )
    assert "2026-11-20" in first["script_en"]
    assert phone(0) not in r.text
    # A retry goes to the end of the queue (its next call is later).
    assert (
        _post(c, c.entries[0], {"attempt_key": "x", "disposition": "busy"}, c.agent).status_code
        == 201
    )
    items = c.server.client.get("/api/v1/callbacks/queue", headers=c.agent).json()["items"]
    assert [i["id"] for i in items] == [c.entries[1], c.entries[0]]
    assert items[1]["next_call_at"] is not None
    r = c.server.client.get("/api/v1/callbacks/queue", headers=c.hall_admin)
    assert [i["id"] for i in r.json()["items"]] == [c.entries[1], c.entries[2], c.entries[0]]
    r = c.server.client.get(f"/api/v1/callbacks/entries/{c.entries[0]}", headers=c.agent)
    assert r.status_code == 200, r.text
    assert [a["disposition"] for a in r.json()["attempts"]] == ["busy"]
    assert c.server.client.get("/api/v1/callbacks/queue", headers=c.viewer).status_code == 403


def test_reveal_is_audited_and_only_for_agents_and_city_admins(calls: Calls) -> None:
    c, e = calls, calls.entries[0]
    url = f"/api/v1/callbacks/entries/{e}/reveal"
    for headers in (c.viewer, c.hall_admin, c.other_agent):
        r = c.server.client.post(url, headers=headers)
        assert r.status_code == 403 and phone(0) not in r.text
    assert c.count(PhoneRead) == 0
    r = c.server.client.post(url, headers=c.agent)
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == phone(0) and r.headers["cache-control"] == "no-store"
    r = c.server.client.get("/api/v1/audit/phone-reads", headers=c.server.admin)
    (read,) = r.json()["items"]
    assert (read["username"], read["purpose"]) == ("ag1", f"回访 entry {e}")
    assert read["id"] == c.server.client.post(url, headers=c.agent).json()["audit_id"] - 1


def test_agent_of_another_hall_gets_403(calls: Calls) -> None:
    c, e = calls, calls.entries[0]
    assert (
        c.server.client.get(f"/api/v1/callbacks/entries/{e}", headers=c.other_agent).status_code
        == 403
    )
    r = _post(c, e, {"attempt_key": "k", "disposition": "busy"}, c.other_agent)
    assert r.status_code == 403
    r = c.server.client.get("/api/v1/callbacks/queue?hall=H1", headers=c.other_agent)
    assert r.status_code == 403


def test_patch_assigns_to_an_agent_of_the_hall_and_withdraws(calls: Calls) -> None:
    c, e = calls, calls.entries[2]
    url = f"/api/v1/callbacks/entries/{e}"
    r = c.server.client.patch(url, json={"agent": "ag1"}, headers=c.hall_admin)
    assert r.status_code == 200 and r.json()["agent"] == "ag1", r.text
    r = c.server.client.patch(url, json={"agent": "ag2"}, headers=c.hall_admin)
    assert r.status_code == 422 and "not an active agent" in r.json()["detail"]
    r = c.server.client.patch(url, json={"agent": "ag1b"}, headers=c.agent)
    assert r.status_code == 403
    # Assigned to ag1b now: ag1 may no longer record calls on it.
    r = c.server.client.patch(url, json={"agent": "ag1b"}, headers=c.hall_admin)
    assert r.status_code == 200
    assert _post(c, e, {"attempt_key": "k", "disposition": "busy"}, c.agent).status_code == 403
    r = c.server.client.patch(url, json={"state": "not_needed"}, headers=c.server.admin)
    assert r.status_code == 200 and r.json()["state"] == "not_needed"
    r = c.server.client.patch(url, json={"agent": "ag1"}, headers=c.hall_admin)
    assert r.status_code == 409
    r = c.server.client.patch(url, json={}, headers=c.hall_admin)
    assert r.status_code == 422
