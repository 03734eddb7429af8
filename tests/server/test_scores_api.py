"""Scores and rankings over the API agree with a hand calculation of the 30/30/40 rule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.ingest import ingest_evaluations
from tests.server.conftest import Server, evaluation, serve


def _votes(
    prefix: str, channel: str, levels: dict[str, int], **fields: Any
) -> list[dict[str, Any]]:
    out = []
    for level, n in levels.items():
        for i in range(n):
            rec = evaluation(f"{prefix}:{level}:{i}", channel=channel, level=level, **fields)
            if channel not in ("evaluator", "ballot_box"):
                rec.update(device=None, time_source="import")
            out.append(rec)
    return out


def _import(server: Server, records: list[dict[str, Any]]) -> None:
    """SMS and phone results arrive through the importer, which calls the ingest service."""
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        result = ingest_evaluations(s, records, "import:test.xlsx")
        s.commit()
    assert result.rejected == [] and result.accepted == len(records)


def test_weighted_score_matches_hand_calculation(server: Server) -> None:
    # On site (evaluator + ballot box): (1 + 7 + 1) of 12 satisfied = 3/4.
    server.ingest(
        _votes("ev", "evaluator", {"very_satisfied": 1, "satisfied": 7, "dissatisfied": 2})
        + _votes("bb", "ballot_box", {"satisfied": 1, "basically_satisfied": 1}, device="BB-1")
    )
    # SMS 9/10, phone call-back 3/4.
    _import(server, _votes("sms", "sms", {"satisfied": 9, "very_dissatisfied": 1}))
    _import(server, _votes("ph", "phone", {"satisfied": 3, "basically_satisfied": 1}))
    r = server.client.get("/api/v1/scores?hall=H1&period=2026Q4", headers=server.admin)
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    # 0.3 * 3/4 + 0.3 * 9/10 + 0.4 * 3/4 = 0.795
    assert res["score"]["exact"] == "159/200"
    assert res["score"]["percent"] == "79.50"
    assert res["channels"]["sms"]["total"] == 10
    assert res["missing_groups"] == []
    assert res["policy"]["name"] == "default-30-30-40"
    assert r.json()["period"]["label"] == "2026Q4"


def test_window_staff_and_range_scopes(server: Server) -> None:
    server.ingest(
        _votes("a", "evaluator", {"satisfied": 3}, window="A01", staff="1")
        + _votes("b", "evaluator", {"dissatisfied": 1, "satisfied": 1}, window="A02", staff="2")
        + _votes("c", "evaluator", {"dissatisfied": 1}, occurred_at="2026-12-31T23:59:00+08:00")
    )
    get = lambda q: server.client.get(f"/api/v1/scores?{q}", headers=server.admin)  # noqa: E731
    assert get("hall=H1&window=A01&period=2026Q4").json()["result"]["score"]["exact"] == "1/1"
    assert get("hall=H1&staff=2&period=2026-11").json()["result"]["score"]["exact"] == "1/2"
    # A date range cutting through a month uses the daily grain at its edges.
    ranged = get("hall=H1&from=2026-11-23&to=2026-12-31").json()["result"]
    assert ranged["counted_total"] == 6
    assert get("hall=H1&from=2026-11-24&to=2026-12-30").json()["result"]["counted_total"] == 0
    # Hall-local day: 23:59 in Shanghai on 31 Dec belongs to 2026, not 2027.
    assert get("hall=H1&period=2027").json()["result"]["counted_total"] == 0


def test_year_shows_sum_and_mean_of_quarters(server: Server) -> None:
    server.ingest(
        _votes("q1", "evaluator", {"satisfied": 1}, occurred_at="2026-02-01T10:00:00+08:00")
        + _votes("q4", "evaluator", {"satisfied": 1, "dissatisfied": 1})
    )
    body = server.client.get("/api/v1/scores?hall=H1&period=2026", headers=server.admin).json()
    year = body["year"]
    assert year["sum"]["exact"] == "3/2" and year["mean"]["exact"] == "3/4"
    assert year["scored_quarters"] == [1, 4] and year["missing_quarters"] == [2, 3]


@pytest.fixture
def three_windows(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    """Hall H1 with windows A01, A02 and A03 only: a ranking lists every window of the hall."""
    yield from serve(migrated_url, tmp_path, windows="A01,A02,A03")


def test_ranking_of_every_window(three_windows: Server) -> None:
    server = three_windows
    server.ingest(
        _votes("a", "evaluator", {"satisfied": 1, "dissatisfied": 1}, window="A01")
        + _votes("b", "evaluator", {"satisfied": 2}, window="A02")
        + _votes("c", "evaluator", {"satisfied": 4}, window="A03")
        + _votes("d", "evaluator", {"dissatisfied": 1}, window=None, attribution="unattributed")
    )
    server.client.post(
        "/api/v1/windows", json={"hall_id": 1, "code": "A09"}, headers=server.admin
    ).raise_for_status()
    body = server.client.get("/api/v1/rankings?period=2026Q4", headers=server.admin).json()
    ranks = [(i["rank"], i["code"], i["score"]["exact"]) for i in body["items"]]
    assert ranks == [(1, "A02", "1/1"), (1, "A03", "1/1"), (3, "A01", "1/2"), (None, "A09", None)]
    assert body["unassigned_total"] == 1
    by_hall = server.client.get("/api/v1/rankings?period=2026Q4&by=hall", headers=server.admin)
    assert by_hall.json()["items"][0]["counted_total"] == 9


def test_bad_score_queries_are_4xx(server: Server) -> None:
    get = lambda q: server.client.get(f"/api/v1/scores?{q}", headers=server.admin)  # noqa: E731
    assert get("hall=H1").status_code == 400
    assert "not understood" in get("hall=H1&period=2026Q5").json()["detail"]
    assert get("hall=H1&period=2026&from=2026-01-01&to=2026-01-02").status_code == 400
    assert get("hall=H1&from=2026-02-01&to=2026-01-01").status_code == 400
    assert get("hall=NOPE&period=2026").status_code == 404
    assert get("window=A01&period=2026").status_code == 400
    assert get("hall=H1&window=NOPE&period=2026").status_code == 404
    assert get("hall=H1&from=yesterday&to=2026-01-01").status_code == 422
    assert server.client.get("/api/v1/scores?hall=H1&period=2026").status_code == 401


@pytest.fixture
def two_windows(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from serve(migrated_url, tmp_path, windows="A01,A02")


def test_ranking_follows_new_votes(two_windows: Server) -> None:
    """Scores are memoised by their counts: a ranking must still move when the counts do."""
    server = two_windows
    server.ingest(_votes("a", "evaluator", {"satisfied": 1}, window="A01"))
    server.ingest(_votes("b", "evaluator", {"satisfied": 1}, window="A02"))
    get = lambda: server.client.get("/api/v1/rankings?period=2026Q4", headers=server.admin)  # noqa: E731
    assert [i["rank"] for i in get().json()["items"]] == [1, 1]
    server.ingest(_votes("c", "evaluator", {"dissatisfied": 1}, window="A01"))
    items = get().json()["items"]
    assert [(i["code"], i["score"]["exact"]) for i in items] == [("A02", "1/1"), ("A01", "1/2")]


def test_ranking_within_a_window_or_of_one_staff_member(server: Server) -> None:
    """``window=`` / ``staff=`` narrow a ranking to that scope's evaluations: the staff members
    at one window, the windows of one staff member; each item equals /scores of the pair."""
    server.ingest(
        _votes("a", "evaluator", {"satisfied": 3}, window="A01", staff="1")
        + _votes("b", "evaluator", {"dissatisfied": 1}, window="A01", staff="2")
        + _votes("c", "evaluator", {"satisfied": 2}, window="A02", staff="2")
    )
    get = lambda q: server.client.get(f"/api/v1/{q}", headers=server.admin)  # noqa: E731
    body = get("rankings?by=staff&hall=H1&window=A01&period=2026Q4").json()
    assert body["scope"] == {"hall": "H1", "window": "A01", "department": None, "staff": None}
    scored = [
        (i["rank"], i["code"], i["score"]["exact"], i["counted_total"]) for i in body["items"]
    ]
    assert scored[:2] == [(1, "1", "1/1", 3), (2, "2", "0/1", 1)]
    assert all(i["counted_total"] == 0 and i["rank"] is None for i in body["items"][2:])
    for item in body["items"][:2]:
        one = get(f"scores?hall=H1&window=A01&staff={item['code']}&period=2026Q4").json()
        assert one["result"]["score"] == item["score"]
    hall_wide = get("rankings?by=staff&hall=H1&period=2026Q4").json()["items"]
    assert [(i["code"], i["score"]["exact"]) for i in hall_wide[:2]] == [("1", "1/1"), ("2", "2/3")]
    windows = get("rankings?by=window&hall=H1&staff=2&period=2026Q4").json()["items"]
    assert [(i["code"], i["score"]["exact"]) for i in windows[:2]] == [
        ("A02", "1/1"),
        ("A01", "0/1"),
    ]
    assert get("rankings?by=staff&window=A01&period=2026Q4").status_code == 400
    missing = get("rankings?by=staff&hall=H1&window=NOPE&period=2026Q4")
    assert (
        missing.status_code == 404
        and missing.json()["detail"] == "unknown window 'NOPE' in this hall"
    )
