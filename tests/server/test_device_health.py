"""Device health at the server: the gateway's push, the device table with filters, history,
alerts, hall scoping and bad input (SQLite and PostgreSQL, like every server test)."""

from __future__ import annotations

import time
from typing import Any

from tests.server.conftest import Server

PUSH = "/api/v1/ingest/devices"


def snap(device: str, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "device": device,
        "kind": "evaluator",
        "window": "A01",
        "online": True,
        "fw": "0.1.0",
        "slot": "a",
        "probation": False,
        "reset_cause": "power_on",
        "boots": 3,
        "uptime_s": 120,
        "heap": 40000,
        "largest_free": 20000,
        "rssi": -60,
        "outbox": 0,
        "outbox_oldest_s": None,
        "overflow": 0,
        "rolled_back": None,
        "fatal": None,
        "self_test": "ok",
        "last_seen": time.time(),
        "alarms": [],
    }
    out.update(kw)
    return out


def push(server: Server, at: float, *snaps: dict[str, Any], headers: Any = None) -> Any:
    r = server.client.post(
        PUSH,
        json={"gateway": "gw-h1", "at": at, "devices": list(snaps)},
        headers=headers or server.gw,
    )
    return r


def test_push_is_idempotent_and_the_table_shows_the_latest(server: Server) -> None:
    t = time.time()
    r = push(server, t, snap("EV-A01"), snap("BB-01", kind="ballot_box", window=None))
    assert r.status_code == 200 and r.json() == {"accepted": 2, "duplicates": 0}
    # The same push again (a retry after a lost answer): stored once.
    assert push(server, t, snap("EV-A01"), snap("BB-01", kind="ballot_box")).json() == {
        "accepted": 0,
        "duplicates": 2,
    }
    assert (
        push(server, t + 60, snap("EV-A01", fw="0.2.0", slot="b", probation=True)).json()[
            "accepted"
        ]
        == 1
    )
    # A late, older snapshot goes to history only.
    assert push(server, t + 30, snap("EV-A01", fw="0.0.9")).json()["accepted"] == 1
    rows = server.client.get("/api/v1/devices/health", headers=server.admin).json()["devices"]
    assert [(d["hall"], d["device"]) for d in rows] == [("H1", "BB-01"), ("H1", "EV-A01")]
    ev = rows[1]
    assert (ev["fw"], ev["slot"], ev["probation"], ev["online"]) == ("0.2.0", "b", True, True)
    hist = server.client.get("/api/v1/devices/EV-A01/history", headers=server.admin).json()
    assert [h["fw"] for h in hist["history"]] == ["0.2.0", "0.0.9", "0.1.0"]  # newest first


def test_filters(server: Server) -> None:
    t = time.time()
    push(
        server,
        t,
        snap("EV-A01"),
        snap("EV-A02", online=False, alarms=["offline"]),
        snap("EV-A03", fw="0.2.0", heap=9000, alarms=["low_heap", "jam"]),
        snap("BB-01", kind="ballot_box", window=None, alarms=["tamper"]),
    )

    def codes(**params: Any) -> list[str]:
        r = server.client.get("/api/v1/devices/health", params=params, headers=server.admin)
        assert r.status_code == 200, r.text
        return [d["device"] for d in r.json()["devices"]]

    assert codes(online="false") == ["EV-A02"]
    assert codes(kind="ballot_box") == ["BB-01"]
    assert codes(version="0.2.0") == ["EV-A03"]
    assert codes(alarm="jam") == ["EV-A03"]
    assert codes(alarm="offline", hall="H1") == ["EV-A02"]
    c, h = server.client, server.admin
    assert c.get("/api/v1/devices/health", params={"kind": "toaster"}, headers=h).status_code == 400
    assert c.get("/api/v1/devices/health", params={"alarm": "fire"}, headers=h).status_code == 400
    assert c.get("/api/v1/devices/health", params={"hall": "NOPE"}, headers=h).status_code == 404
    assert c.get("/api/v1/devices/EV-XX/history", headers=h).status_code == 404


def test_alerts_open_and_clear(server: Server) -> None:
    t = time.time()
    push(server, t, snap("EV-A02", online=False, alarms=["offline"]))
    push(server, t + 60, snap("EV-A02", online=False, alarms=["offline"]))
    d = server.client.get("/api/v1/devices/health", headers=server.admin).json()["devices"][0]
    assert [a["alarm"] for a in d["alerts"]] == ["offline"]
    first, last = d["alerts"][0]["first_seen"], d["alerts"][0]["last_seen"]
    assert first < last and d["alerts"][0]["cleared_at"] is None
    push(server, t + 120, snap("EV-A02"))
    d = server.client.get("/api/v1/devices/health", headers=server.admin).json()["devices"][0]
    assert d["alerts"] == [] and d["alarms"] == []
    hist = server.client.get("/api/v1/devices/EV-A02/history", headers=server.admin).json()
    assert len(hist["alerts"]) == 1 and hist["alerts"][0]["cleared_at"] is not None


def test_auth_and_bad_input_change_nothing(server: Server) -> None:
    c = server.client
    t = time.time()
    assert (
        push(server, t, snap("EV-A01"), headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert push(server, t, snap("EV-A01"), headers=server.admin).status_code == 401
    for bad in (
        snap("EV-A01", alarms=["fire"]),
        snap("EV-A01", rssi=20),
        snap("bad id with spaces"),
        snap("EV-A01", extra_field=1),
        snap("EV-A01", self_test="x" * 49),
    ):
        r = push(server, t, snap("EV-A02"), bad)
        assert 400 <= r.status_code < 500, (bad, r.text)
    assert push(server, 12, snap("EV-A01")).status_code == 422  # a broken clock
    assert c.get("/api/v1/devices/health", headers=server.admin).json()["devices"] == []
    assert c.get("/api/v1/devices/health").status_code == 401


def test_a_hall_admin_sees_its_own_hall_only(server: Server) -> None:
    c, h = server.client, server.admin
    h2 = c.post("/api/v1/halls", json={"code": "H2", "name": "二厅"}, headers=h).json()
    gw2 = c.post("/api/v1/gateways", json={"hall_id": h2["id"], "code": "gw-h2"}, headers=h).json()
    push(server, time.time(), snap("EV-A01"))
    push(server, time.time(), snap("EV-B01"), headers={"Authorization": f"Bearer {gw2['api_key']}"})
    body = {"username": "ha2", "password": "password1", "role": "hall_admin", "hall_id": h2["id"]}
    assert c.post("/api/v1/users", json=body, headers=h).status_code == 201
    ha2 = server.login("ha2", "password1")
    rows = c.get("/api/v1/devices/health", headers=ha2).json()["devices"]
    assert [(d["hall"], d["device"]) for d in rows] == [("H2", "EV-B01")]
    assert c.get("/api/v1/devices/health", params={"hall": "H1"}, headers=ha2).status_code == 403
    assert c.get("/api/v1/devices/EV-A01/history", headers=ha2).status_code == 404
    all_rows = c.get("/api/v1/devices/health", headers=h).json()["devices"]
    assert {d["device"] for d in all_rows} == {"EV-A01", "EV-B01"}
