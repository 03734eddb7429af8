"""Append-only review history (issue #12, report 2): un-flagging misuse is a city admin's decision
with a reason, every review is kept, and a reviewer's decision survives gateway revisions."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import Server, check_aggregates, evaluation


def _hall_admin(server: Server) -> dict[str, str]:
    r = server.client.post(
        "/api/v1/users",
        json={"username": "ha1", "password": "password1", "role": "hall_admin", "hall_id": 1},
        headers=server.admin,
    )
    assert r.status_code == 201, r.text
    return server.login("ha1", "password1")


def _ids(server: Server) -> dict[str, int]:
    items = server.client.get("/api/v1/evaluations", headers=server.admin).json()["items"]
    return {e["key"]: e["id"] for e in items}


def _patch(server: Server, ev_id: int, headers: dict[str, str], **body: Any) -> Any:
    return server.client.patch(f"/api/v1/evaluations/{ev_id}", json=body, headers=headers)


def _counted(server: Server) -> int:
    r = server.client.get("/api/v1/scores?hall=H1&period=2026Q4", headers=server.admin)
    total: int = r.json()["result"]["counted_total"]
    return total


def _aggregates_agree(server: Server) -> None:
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        raw, stored = check_aggregates(s)
    assert raw == stored


def test_hall_admin_cannot_unflag_misuse_and_a_reason_is_required(server: Server) -> None:
    server.ingest([evaluation("m1", flags=["misuse"]), evaluation("k2", level="dissatisfied")])
    ids = _ids(server)
    ha = _hall_admin(server)
    assert _counted(server) == 1

    r = _patch(server, ids["m1"], ha, flags=[], reason="not misuse, trust me")
    assert r.status_code == 403 and "only a city admin may remove flags (misuse)" in r.text
    # Nor by replacing misuse with another flag list, nor by restoring an exclusion.
    assert _patch(server, ids["m1"], ha, flags=["paused"], reason="x").status_code == 403
    assert _patch(server, ids["k2"], ha, excluded=True, reason="申诉: 误评").status_code == 200
    r = _patch(server, ids["k2"], ha, excluded=False, reason="restore")
    assert r.status_code == 403 and "only a city admin may restore" in r.text
    assert _counted(server) == 0

    # A city admin may un-flag, with a reason that is not blank.
    for blank in ({"flags": []}, {"flags": [], "reason": ""}, {"flags": [], "reason": "   "}):
        assert _patch(server, ids["m1"], server.admin, **blank).status_code == 422
    r = _patch(server, ids["m1"], server.admin, flags=[], reason="回访确认: 群众本人评价")
    assert r.status_code == 200 and r.json()["counted"] is True
    assert _counted(server) == 1
    history = server.client.get(f"/api/v1/evaluations/{ids['m1']}/history", headers=ha).json()
    assert [(h["action"], h["actor"], h["reason"], h["before"], h["after"]) for h in history] == [
        (
            "review",
            "root",
            "回访确认: 群众本人评价",
            {"flags": ["misuse"], "excluded": False, "counted": False},
            {"flags": [], "excluded": False, "counted": True},
        )
    ]
    _aggregates_agree(server)


def test_history_keeps_every_review(server: Server) -> None:
    server.ingest([evaluation("k1")])
    ev_id = _ids(server)["k1"]
    ha = _hall_admin(server)
    steps: list[tuple[dict[str, str], dict[str, Any]]] = [
        (ha, {"flags": ["misuse"], "reason": "按键三次"}),
        (ha, {"excluded": True, "reason": "申诉复核: 误评"}),
        (server.admin, {"excluded": False, "flags": [], "reason": "复核撤销"}),
        (server.admin, {"excluded": True, "reason": "再次复核"}),
    ]
    for headers, body in steps:
        r = _patch(server, ev_id, headers, **body)
        assert r.status_code == 200, r.text
    r = server.client.get(f"/api/v1/evaluations/{ev_id}/history", headers=server.admin)
    assert r.status_code == 200, r.text
    history = r.json()
    assert [(h["actor_kind"], h["actor"], h["reason"]) for h in history] == [
        ("user", "ha1", "按键三次"),
        ("user", "ha1", "申诉复核: 误评"),
        ("user", "root", "复核撤销"),
        ("user", "root", "再次复核"),
    ]
    assert [(h["before"]["counted"], h["after"]["counted"]) for h in history] == [
        (True, False),
        (False, False),
        (False, True),
        (True, False),
    ]
    assert history[1]["before"]["excluded"] is False and history[1]["after"]["excluded"] is True
    assert all(h["user_id"] is not None and h["at"] for h in history)
    assert [h["id"] for h in history] == sorted(h["id"] for h in history)
    # The row itself shows the last review; the history shows them all.
    ev = server.client.get(f"/api/v1/evaluations/{ev_id}", headers=server.admin).json()
    assert (ev["review_reason"], ev["reviewed_by"], ev["counted"]) == ("再次复核", "root", False)
    # Another hall's admin sees nothing, a viewer of the hall reads it, nobody writes it.
    c = server.client
    h2 = c.post("/api/v1/halls", json={"code": "H2", "name": "二厅"}, headers=server.admin).json()
    for name, role, hall_id in (("ha2", "hall_admin", h2["id"]), ("v1", "viewer", 1)):
        body = {"username": name, "password": "password1", "role": role, "hall_id": hall_id}
        assert c.post("/api/v1/users", json=body, headers=server.admin).status_code == 201
    path = f"/api/v1/evaluations/{ev_id}/history"
    assert c.get(path, headers=server.login("ha2", "password1")).status_code == 404
    assert len(c.get(path, headers=server.login("v1", "password1")).json()) == 4
    assert c.get(path).status_code == 401
    assert c.post(path, json={}, headers=server.admin).status_code == 405
    assert c.get("/api/v1/evaluations/999999/history", headers=server.admin).status_code == 404


def test_a_reviewers_flag_survives_a_gateway_resend_with_higher_rev(server: Server) -> None:
    server.ingest([evaluation("k1", window="A01", staff="1001"), evaluation("k2")])
    ids = _ids(server)
    r = _patch(server, ids["k1"], server.admin, flags=["misuse"], reason="监控确认误按")
    assert r.status_code == 200 and r.json()["counted"] is False
    r = _patch(server, ids["k2"], server.admin, excluded=True, reason="申诉复核")
    assert r.status_code == 200
    assert _counted(server) == 0

    # The gateway re-attributes both with a higher rev and no flags.
    out = server.ingest(
        [
            evaluation("k1", rev=1, window="A02", staff="1002", flags=[]),
            evaluation("k2", rev=1, window="A04", flags=[]),
        ]
    )
    assert out["updated"] == 2
    items = {
        e["key"]: e
        for e in server.client.get("/api/v1/evaluations", headers=server.admin).json()["items"]
    }
    k1, k2 = items["k1"], items["k2"]
    assert (k1["rev"], k1["window"], k1["staff"]) == (1, "A02", "1002")  # attribution moved
    assert (k1["flags"], k1["counted"]) == (["misuse"], False)  # the reviewer's flag stays
    assert (k2["window"], k2["excluded"], k2["counted"]) == ("A04", True, False)
    assert _counted(server) == 0
    _aggregates_agree(server)

    history = server.client.get(
        f"/api/v1/evaluations/{ids['k1']}/history", headers=server.admin
    ).json()
    assert [(h["action"], h["actor_kind"], h["actor"]) for h in history] == [
        ("review", "user", "root"),
        ("revision", "gateway", "gateway:gw-h1"),
    ]
    revision = history[1]
    assert revision["gateway_id"] is not None and revision["reason"] is None
    assert revision["before"]["rev"] == 0 and revision["after"]["rev"] == 1
    assert revision["before"]["window_id"] != revision["after"]["window_id"]
    assert "flags" not in revision["after"]  # unchanged


def test_unreviewed_revisions_still_flag_and_unflag_and_are_recorded(server: Server) -> None:
    server.ingest([evaluation("k1", flags=["no_ticket"])])
    ev_id = _ids(server)["k1"]
    out = server.ingest([evaluation("k1", rev=1, flags=[])])
    assert out["updated"] == 1 and _counted(server) == 1
    out = server.ingest([evaluation("k1", rev=2, flags=[])])  # only the rev changes
    assert out["updated"] == 1
    history = server.client.get(f"/api/v1/evaluations/{ev_id}/history", headers=server.admin)
    assert [(h["action"], h["before"], h["after"]) for h in history.json()] == [
        (
            "revision",
            {"rev": 0, "flags": ["no_ticket"], "counted": False},
            {"rev": 1, "flags": [], "counted": True},
        )
    ]
    _aggregates_agree(server)


def _item(server: Server, key: str) -> dict[str, Any]:
    items = server.client.get("/api/v1/evaluations", headers=server.admin).json()["items"]
    return next(e for e in items if e["key"] == key)


def test_a_reviewed_unknown_window_vote_counts_once_the_window_exists(server: Server) -> None:
    """The review decided only the exclusion: the next revision, once window Q55 exists,
    attributes the vote to it, drops unknown_window (the server's flag, not a decision) and
    counts it."""
    server.ingest([evaluation("q1", window="Q55")])
    ev_id = _ids(server)["q1"]
    assert (_item(server, "q1")["flags"], _counted(server)) == (["unknown_window"], 0)
    ha = _hall_admin(server)
    assert _patch(server, ev_id, ha, excluded=False, reason="seen").status_code == 200
    r = server.client.post("/api/v1/windows", json={"hall_id": 1, "code": "Q55"}, headers=ha)
    assert r.status_code == 201, r.text
    assert server.ingest([evaluation("q1", rev=1, window="Q55")])["updated"] == 1
    item = _item(server, "q1")
    assert (item["window"], item["window_code"], item["flags"], item["counted"]) == (
        "Q55",
        None,
        [],
        True,
    )
    assert _counted(server) == 1
    history = server.client.get(f"/api/v1/evaluations/{ev_id}/history", headers=ha).json()
    assert [(h["action"], h["after"].get("flags"), h["after"]["counted"]) for h in history] == [
        ("review", ["unknown_window"], False),
        ("revision", [], True),
    ]
    _aggregates_agree(server)


def test_a_reviewers_flags_stand_and_unknown_window_follows_the_attribution(
    server: Server,
) -> None:
    """A review that set flags pins them, also when it confirms the gateway's own flags; the
    unknown_window flag is never pinned, and no review adds or removes it."""
    server.ingest([evaluation("c1", flags=["misuse"]), evaluation("w1", window="Q56")])
    ids = _ids(server)
    ha = _hall_admin(server)
    # Confirming the gateway's flag is a decision: a later revision without it keeps it.
    assert _patch(server, ids["c1"], ha, flags=["misuse"], reason="confirmed").status_code == 200
    server.ingest([evaluation("c1", rev=1, flags=[])])
    assert (_item(server, "c1")["flags"], _item(server, "c1")["counted"]) == (["misuse"], False)
    # A hall admin adds misuse to the unknown-window vote without naming unknown_window:
    # no 403 (nothing it may not remove), and unknown_window stays while the window is unknown.
    r = _patch(server, ids["w1"], ha, flags=["misuse"], reason="按键三次")
    assert r.status_code == 200, r.text
    assert r.json()["flags"] == ["misuse", "unknown_window"]
    # A city admin cannot clear unknown_window by review either.
    r = _patch(server, ids["w1"], server.admin, flags=[], reason="not misuse")
    assert (r.json()["flags"], r.json()["counted"]) == (["unknown_window"], False)
    # Once the window exists, the next revision drops unknown_window; the reviewer's [] stands
    # against the gateway's paused.
    server.client.post("/api/v1/windows", json={"hall_id": 1, "code": "Q56"}, headers=ha)
    server.ingest([evaluation("w1", rev=1, window="Q56", flags=["paused"])])
    item = _item(server, "w1")
    assert (item["window"], item["flags"], item["counted"]) == ("Q56", [], True)
    # And back to an unknown window: the flag returns.
    server.ingest([evaluation("w1", rev=2, window="Q99", flags=[])])
    item = _item(server, "w1")
    assert (item["window_code"], item["flags"], item["counted"]) == (
        "Q99",
        ["unknown_window"],
        False,
    )
    _aggregates_agree(server)


def test_an_exclusion_review_leaves_later_revisions_the_gateways_flags(server: Server) -> None:
    server.ingest([evaluation("x1", flags=["no_ticket"])])
    ev_id = _ids(server)["x1"]
    assert _patch(server, ev_id, server.admin, excluded=True, reason="申诉").status_code == 200
    server.ingest([evaluation("x1", rev=1, flags=[])])
    item = _item(server, "x1")
    assert (item["flags"], item["excluded"], item["counted"]) == ([], True, False)
    _aggregates_agree(server)
