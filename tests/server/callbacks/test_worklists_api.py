"""The worklist API (docs/api.md "Phone call-backs"): 201/200/403/404/422 and scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from server.models import Hall
from tests.server.callbacks.helpers import add_ticket, phone
from tests.server.conftest import Server

URL = "/api/v1/callbacks/worklists"


def _users(server: Server) -> dict[str, dict[str, str]]:
    c, h = server.client, server.admin
    h2 = c.post("/api/v1/halls", json={"code": "H2", "name": "二厅"}, headers=h).json()
    users = {
        "ha1": {"role": "hall_admin", "hall_id": 1},
        "ha2": {"role": "hall_admin", "hall_id": h2["id"]},
        "view": {"role": "viewer", "hall_id": 1},
        "agent1": {"role": "agent", "hall_id": 1},
    }
    out = {}
    for name, extra in users.items():
        body: dict[str, Any] = {"username": name, "password": "password1", **extra}
        assert c.post("/api/v1/users", json=body, headers=h).status_code == 201
        out[name] = server.login(name, "password1")
    return out


def _yesterday_tickets(server: Server, n: int) -> str:
    """n finished tickets with phones on the previous working day; returns today's date."""
    from server.calendar import WorkingDays
    from server.policy import Policy

    tz = Policy().tzinfo
    today = datetime.now(UTC).astimezone(tz).date()
    wd = WorkingDays()
    day = wd.add(today, 0)
    prev = wd.add(day, -1)
    with Session(server.client.app.state.engine) as s:  # type: ignore[attr-defined]
        hall = s.query(Hall).filter_by(code="H1").one()
        for i in range(n):
            add_ticket(s, hall, prev, phone(i))
        s.commit()
    return day.isoformat()


def test_draw_list_show_verify(server: Server) -> None:
    c = server.client
    users = _users(server)
    day = _yesterday_tickets(server, 3)
    body = {"hall": "H1", "kind": "daily", "day": day}
    r = c.post(URL, json=body, headers=users["ha1"])
    assert r.status_code == 201, r.text
    wl = r.json()
    assert wl["key"] == f"H1:daily:{day}" and wl["planned"] == 3 and wl["created_by"] == "ha1"
    assert wl["counts"]["open"] == 3 and len(wl["seed"]) == 32
    assert wl["policy"]["modes"] == ["previous_working_day", "dissatisfied"]
    again = c.post(URL, json={**body, "seed": "ab" * 16}, headers=server.admin)
    assert again.status_code == 200 and again.json()["id"] == wl["id"]
    assert again.json()["seed"] == wl["seed"]
    items = c.get(URL, params={"hall": "H1", "from": day, "to": day}, headers=users["agent1"])
    assert items.status_code == 200 and [i["id"] for i in items.json()["items"]] == [wl["id"]]
    assert c.get(URL, params={"kind": "sample"}, headers=server.admin).json()["items"] == []
    assert c.get(URL, headers=users["ha2"]).json()["items"] == []  # its own hall: none
    one = c.get(f"{URL}/{wl['id']}", headers=users["view"])
    assert one.status_code == 200 and one.json() == wl
    v = c.get(f"{URL}/{wl['id']}/verify", headers=users["ha1"]).json()
    assert v == {
        "worklist_id": wl["id"],
        "matches": True,
        "seed": wl["seed"],
        "frame_sha256": wl["frame_sha256"],
        "frame_intact": True,
        "differences": [],
    }


def test_refusals(server: Server) -> None:
    c = server.client
    users = _users(server)
    day = _yesterday_tickets(server, 1)
    body = {"hall": "H1", "kind": "daily", "day": day}
    for who in ("view", "agent1", "ha2"):
        assert c.post(URL, json=body, headers=users[who]).status_code == 403, who
    assert c.post(URL, json=body).status_code == 401
    assert c.post(URL, json={**body, "hall": "H9"}, headers=server.admin).status_code == 404
    bad = [
        {"hall": "H1", "kind": "daily"},
        {"hall": "H1", "kind": "daily", "day": day, "period": "2026Q4"},
        {"hall": "H1", "kind": "sample", "day": day},
        {"hall": "H1", "kind": "sample", "period": "2026Q4"},  # mode sample is off
        {"hall": "H1", "kind": "weekly", "day": day},
        {**body, "seed": "not-hex"},
        {**body, "extra": 1},
    ]
    for b in bad:
        r = c.post(URL, json=b, headers=server.admin)
        assert r.status_code == 422, (b, r.text)
        assert r.json()["detail"]
    saturday = datetime(2026, 11, 21).date().isoformat()
    r = c.post(URL, json={**body, "day": saturday}, headers=server.admin)
    assert r.status_code == 422 and "not a working day" in r.json()["detail"]
    assert c.get(URL, headers=server.admin).json()["items"] == []
    wl = c.post(URL, json=body, headers=server.admin).json()
    assert c.get(f"{URL}/{wl['id']}", headers=users["ha2"]).status_code == 403
    assert c.get(f"{URL}/{wl['id']}/verify", headers=users["ha2"]).status_code == 403
    assert c.get(URL, params={"hall": "H1"}, headers=users["ha2"]).status_code == 403
    assert c.get(f"{URL}/99999", headers=server.admin).status_code == 404
    assert c.get(f"{URL}/0", headers=server.admin).status_code == 422
    assert c.get(URL, params={"hall": "H9"}, headers=server.admin).status_code == 404
    assert c.get(URL, params={"from": "2026-13-01"}, headers=server.admin).status_code == 422
