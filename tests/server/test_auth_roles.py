"""Gateway keys for ingest; admin tokens; city admin / hall admin / viewer; no anonymous writes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import Server, evaluation


def _setup(server: Server) -> dict[str, Any]:
    c, h = server.client, server.admin
    h2 = c.post("/api/v1/halls", json={"code": "H2", "name": "二厅"}, headers=h).json()
    users = {
        "ha1": {"role": "hall_admin", "hall_id": 1},
        "ha2": {"role": "hall_admin", "hall_id": h2["id"]},
        "view": {"role": "viewer", "hall_id": 1},
    }
    for name, extra in users.items():
        r = c.post(
            "/api/v1/users", json={"username": name, "password": "password1", **extra}, headers=h
        )
        assert r.status_code == 201, r.text
    gw2 = c.post("/api/v1/gateways", json={"hall_id": h2["id"], "code": "gw-h2"}, headers=h).json()
    return {"h2": h2, "gw2_key": gw2["api_key"]}


def test_gateway_key_required_and_bound_to_its_hall(server: Server) -> None:
    c = server.client
    body = {"records": [evaluation("k1")]}
    assert c.post("/api/v1/ingest/evaluations", json=body).status_code == 401
    bad = {"Authorization": "Bearer wrong"}
    assert c.post("/api/v1/ingest/evaluations", json=body, headers=bad).status_code == 401
    # An admin token is not a gateway key.
    assert c.post("/api/v1/ingest/evaluations", json=body, headers=server.admin).status_code == 401
    info = _setup(server)
    gw2 = {"Authorization": f"Bearer {info['gw2_key']}"}
    out = c.post("/api/v1/ingest/evaluations", json=body, headers=gw2).json()
    assert "not served by this gateway" in out["rejected"][0]["reason"]
    # The key is stored hashed: the listing never shows it.
    listed = c.get("/api/v1/gateways", headers=server.admin).json()
    assert all(g["api_key"] is None for g in listed)
    # A disabled gateway is refused.
    gw_id = next(g["id"] for g in listed if g["code"] == "gw-h2")
    c.patch(f"/api/v1/gateways/{gw_id}", json={"active": False}, headers=server.admin)
    assert c.post("/api/v1/ingest/evaluations", json=body, headers=gw2).status_code == 401


def test_login_form_and_json(server: Server) -> None:
    c = server.client
    r = c.post("/api/v1/auth/token", data={"username": "root", "password": "root-password"})
    assert r.status_code == 200 and r.json()["role"] == "city_admin"
    assert (
        c.post("/api/v1/auth/token", json={"username": "root", "password": "x"}).status_code == 401
    )
    assert c.post("/api/v1/auth/token", content=b"[1]").status_code == 422
    assert c.get("/api/v1/auth/me", headers={"Authorization": "Bearer a.b"}).status_code == 401


def test_hall_admin_sees_and_changes_only_own_hall(server: Server) -> None:
    info = _setup(server)
    server.ingest([evaluation("k1")])
    c = server.client
    ha1, ha2 = server.login("ha1", "password1"), server.login("ha2", "password1")
    assert c.get("/api/v1/scores?hall=H1&period=2026", headers=ha1).status_code == 200
    assert c.get("/api/v1/scores?hall=H1&period=2026", headers=ha2).status_code == 403
    # Without hall=, a hall-bound account gets its own hall.
    own = c.get("/api/v1/scores?period=2026", headers=ha2).json()
    assert own["scope"]["hall"] == "H2" and own["result"]["counted_total"] == 0
    assert [h["code"] for h in c.get("/api/v1/halls", headers=ha2).json()] == ["H2"]
    assert c.get("/api/v1/evaluations", headers=ha2).json()["items"] == []
    assert len(c.get("/api/v1/evaluations", headers=ha1).json()["items"]) == 1
    new_window = {"hall_id": 1, "code": "B01"}
    assert c.post("/api/v1/windows", json=new_window, headers=ha2).status_code == 403
    assert c.post("/api/v1/windows", json=new_window, headers=ha1).status_code == 201
    assert c.post("/api/v1/halls", json={"code": "H3"}, headers=ha1).status_code == 403
    assert c.delete(f"/api/v1/halls/{info['h2']['id']}", headers=ha2).status_code == 403
    assert c.get("/api/v1/users", headers=ha1).status_code == 403


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("post", "/api/v1/windows", {"hall_id": 1, "code": "B02"}),
        ("post", "/api/v1/halls", {"code": "H9"}),
        ("patch", "/api/v1/halls/1", {"name": "x"}),
        ("delete", "/api/v1/halls/1", None),
        ("patch", "/api/v1/evaluations/1", {"reason": "r", "excluded": True}),
    ],
)
def test_viewer_and_anonymous_cannot_write(
    server: Server, method: str, path: str, body: dict[str, Any] | None
) -> None:
    _setup(server)
    server.ingest([evaluation("k1")])
    view = server.login("view", "password1")
    kwargs: dict[str, Any] = {"json": body} if body is not None else {}
    assert getattr(server.client, method)(path, headers=view, **kwargs).status_code == 403
    assert getattr(server.client, method)(path, **kwargs).status_code == 401
    assert server.client.get("/api/v1/scores?period=2026", headers=view).status_code == 200
