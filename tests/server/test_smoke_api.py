"""The walking skeleton: ingest a batch as a gateway, read the score as an admin."""

from __future__ import annotations

from tests.server.conftest import Server, evaluation


def test_health(server: Server) -> None:
    r = server.client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_ingest_then_score(server: Server) -> None:
    levels = ["very_satisfied", "satisfied", "dissatisfied", "satisfied"]
    out = server.ingest([evaluation(f"EV-A03:b1:{i}", level=lv) for i, lv in enumerate(levels)])
    assert out == {"accepted": 4, "updated": 0, "duplicates": 0, "rejected": []}
    r = server.client.get("/api/v1/scores?hall=H1&period=2026Q4", headers=server.admin)
    assert r.status_code == 200, r.text
    body = r.json()
    ev = body["result"]["channels"]["evaluator"]
    assert ev["total"] == 4
    assert body["result"]["score"]["exact"] == "3/4"
