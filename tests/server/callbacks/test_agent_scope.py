"""Agents scoped to halls (docs/api.md "Authentication and roles", "Admin resources"): users.hall_id
plus the halls given as ``halls``; read-only; only city admins grant halls."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import Server


def _hall(server: Server, code: str) -> int:
    r = server.client.post("/api/v1/halls", json={"code": code, "name": code}, headers=server.admin)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _user(server: Server, body: dict[str, Any]) -> Any:
    return server.client.post(
        "/api/v1/users", json={"password": "agent-password-1", **body}, headers=server.admin
    )


def test_an_agent_of_h1_and_h2_reads_both_but_not_h3(server: Server) -> None:
    h2, h3 = _hall(server, "H2"), _hall(server, "H3")
    r = _user(server, {"username": "ag", "role": "agent", "hall_id": 1, "halls": ["H2"]})
    assert r.status_code == 201, r.text
    assert r.json()["halls"] == ["H2"] and r.json()["hall_id"] == 1
    r = _user(server, {"username": "ag3", "role": "agent", "hall_id": h3})
    assert r.status_code == 201 and r.json()["halls"] == []
    agent = server.login("ag", "agent-password-1")
    for code in ("H1", "H2"):
        r = server.client.get("/api/v1/evaluations", params={"hall": code}, headers=agent)
        assert r.status_code == 200, r.text
    r = server.client.get("/api/v1/evaluations", params={"hall": "H3"}, headers=agent)
    assert r.status_code == 403
    # Several halls: no default hall.
    r = server.client.get("/api/v1/evaluations", headers=agent)
    assert r.status_code == 400 and "several halls" in r.json()["detail"]
    r = server.client.get("/api/v1/windows", headers=agent)
    assert {w["hall_id"] for w in r.json()} <= {1, h2}
    r = server.client.get(f"/api/v1/halls/{h3}", headers=agent)
    assert r.status_code == 404
    r = server.client.get("/api/v1/auth/me", headers=agent)
    assert r.json()["halls"] == ["H1", "H2"]
    # Read-only everywhere.
    r = server.client.post("/api/v1/windows", json={"hall_id": h2, "code": "B01"}, headers=agent)
    assert r.status_code == 403
    # An agent of H3 only cannot read H1's entries.
    other = server.login("ag3", "agent-password-1")
    r = server.client.get("/api/v1/evaluations", params={"hall": "H1"}, headers=other)
    assert r.status_code == 403


def test_halls_are_checked_and_replaced_and_only_for_agents(server: Server) -> None:
    _hall(server, "H2")
    r = _user(server, {"username": "ag", "role": "agent", "halls": ["H9"]})
    assert r.status_code == 422 and "unknown hall 'H9'" in r.json()["detail"]
    r = _user(server, {"username": "vw", "role": "viewer", "hall_id": 1, "halls": ["H2"]})
    assert r.status_code == 422 and r.json()["detail"] == "halls is only for role agent"
    r = _user(server, {"username": "ag", "role": "agent", "halls": ["H1", "H2"]})
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    url = f"/api/v1/users/{uid}"
    r = server.client.patch(url, json={"halls": ["H2"]}, headers=server.admin)
    assert r.status_code == 200 and r.json()["halls"] == ["H2"]
    assert server.client.get(url, headers=server.admin).json()["halls"] == ["H2"]
    r = server.client.patch(url, json={"role": "viewer", "halls": ["H1"]}, headers=server.admin)
    assert r.status_code == 422
    r = server.client.patch(url, json={"role": "viewer"}, headers=server.admin)
    assert r.status_code == 200, r.text
    assert r.json()["halls"] == []


def test_hall_admins_cannot_grant_halls(server: Server) -> None:
    _hall(server, "H2")
    r = _user(server, {"username": "ha", "role": "hall_admin", "hall_id": 1})
    assert r.status_code == 201, r.text
    r = _user(server, {"username": "ag", "role": "agent", "hall_id": 1})
    uid = r.json()["id"]
    hall_admin = server.login("ha", "agent-password-1")
    body = {"username": "ag2", "password": "agent-password-1", "role": "agent", "halls": ["H2"]}
    assert server.client.post("/api/v1/users", json=body, headers=hall_admin).status_code == 403
    r = server.client.patch(f"/api/v1/users/{uid}", json={"halls": ["H2"]}, headers=hall_admin)
    assert r.status_code == 403
    assert server.client.get(f"/api/v1/users/{uid}", headers=server.admin).json()["halls"] == []
