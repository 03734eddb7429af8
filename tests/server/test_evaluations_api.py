"""Evaluation listing with filters and cursors; review (exclude / flag / un-flag) never deletes."""

from __future__ import annotations

from tests.server.conftest import Server, check_aggregates, evaluation


def test_filters_and_cursor_pagination(server: Server) -> None:
    recs = [evaluation(f"k{i}", window=f"A0{i % 3}", level="satisfied") for i in range(25)]
    recs.append(evaluation("bad", flags=["misuse"], level="dissatisfied"))
    server.ingest(recs)
    c, h = server.client, server.admin
    seen, cursor = [], None
    while True:
        q = "/api/v1/evaluations?hall=H1&window=A01&limit=3" + (
            f"&cursor={cursor}" if cursor else ""
        )
        page = c.get(q, headers=h).json()
        seen += [i["key"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"k{i}" for i in range(25) if i % 3 == 1]
    flagged = c.get("/api/v1/evaluations?flagged=true", headers=h).json()["items"]
    assert [(e["key"], e["flags"], e["counted"]) for e in flagged] == [("bad", ["misuse"], False)]
    lvl = c.get("/api/v1/evaluations?level=dissatisfied&channel=evaluator", headers=h).json()
    assert len(lvl["items"]) == 1
    assert c.get("/api/v1/evaluations?from=2026-11-24", headers=h).json()["items"] == []
    assert c.get("/api/v1/evaluations?cursor=abc", headers=h).status_code == 400
    assert c.get("/api/v1/evaluations?level=great", headers=h).status_code == 422


def test_exclude_restore_and_unflag_move_the_counts(server: Server) -> None:
    server.ingest([evaluation("k1", level="dissatisfied"), evaluation("k2", flags=["misuse"])])
    c, h = server.client, server.admin
    ids = {e["key"]: e["id"] for e in c.get("/api/v1/evaluations", headers=h).json()["items"]}

    def score() -> dict:
        return c.get("/api/v1/scores?hall=H1&period=2026Q4", headers=h).json()["result"]

    assert score()["counted_total"] == 1
    r = c.patch(
        f"/api/v1/evaluations/{ids['k1']}",
        json={"excluded": True, "reason": "申诉复核: 误评"},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["counted"] is False
    assert r.json()["reviewed_by"] == "root"
    assert score()["counted_total"] == 0 and score()["excluded"]["total"] == 2
    r = c.patch(
        f"/api/v1/evaluations/{ids['k2']}", json={"flags": [], "reason": "not misuse"}, headers=h
    )
    assert r.json()["counted"] is True
    c.patch(
        f"/api/v1/evaluations/{ids['k1']}",
        json={"excluded": False, "reason": "re-opened"},
        headers=h,
    )
    assert score()["counted_total"] == 2
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        raw, stored = check_aggregates(s)
    assert raw == stored
    assert (
        c.patch(f"/api/v1/evaluations/{ids['k1']}", json={"reason": "x"}, headers=h).status_code
        == 422
    )
    assert (
        c.patch(
            "/api/v1/evaluations/999", json={"reason": "x", "excluded": True}, headers=h
        ).status_code
        == 404
    )
    assert c.delete(f"/api/v1/evaluations/{ids['k1']}", headers=h).status_code == 405
