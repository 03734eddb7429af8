"""GET /api/v1/trends and /api/v1/heatmap (docs/api.md "Trends and heat map") on SQLite and
PostgreSQL: every bucket equals /scores over its own days, the heat map's total equals /scores'
counted_total, hours and weekdays are hall-local, and bad requests are 4xx with their messages."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from server import scoring
from server.ingest import ingest_evaluations
from server.limits import Limits, RequestLimits
from server.policy import CHANNELS, Policy
from server.trends.routes import Channel
from server.trends.service import BucketMemo, bucket_figures
from tests.server.conftest import Server, evaluation

GROUP_FIELDS = ("name", "rate", "satisfied", "total", "has_data", "below_min_sample")


def _import(server: Server, records: list[dict[str, Any]]) -> None:
    """SMS and phone results arrive through the importer, which calls the ingest service."""
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        result = ingest_evaluations(s, records, "import:test.xlsx")
        s.commit()
    assert result.rejected == [] and result.accepted == len(records)


def _get(server: Server, path: str, headers: dict[str, str] | None = None) -> Any:
    r = server.client.get(f"/api/v1/{path}", headers=headers or server.admin)
    assert r.status_code == 200, r.text
    return r.json()


def _quarter_data(server: Server) -> None:
    """Q4 2026: device votes on several days and windows (some flagged, one excluded), SMS and
    phone results, and votes just outside the quarter."""
    levels = ["very_satisfied", "satisfied", "basically_satisfied", "dissatisfied"]
    device = []
    for i, day in enumerate(["10-01", "10-05", "10-31", "11-01", "11-23", "11-30", "12-31"]):
        for j in range(i % 3 + 1):
            device.append(
                evaluation(
                    f"ev{i}:{j}",
                    occurred_at=f"2026-{day}T{9 + j}:30:00+08:00",
                    level=levels[(i + j) % 4],
                    window=("A01", "A02", None)[j % 3],
                    staff=("1001", "1002", None)[j % 3],
                    flags=["misuse"] if (i, j) == (4, 1) else [],
                )
            )
    device.append(evaluation("bb", channel="ballot_box", device="BB-1", level="dissatisfied"))
    device.append(evaluation("before", occurred_at="2026-09-30T15:59:59+00:00"))  # 23:59 local
    device.append(evaluation("after", occurred_at="2026-12-31T16:00:00+00:00"))  # 1 Jan local
    server.ingest(device)
    remote = []
    for i, day in enumerate(["10-02", "11-23", "12-15"]):
        for ch in ("sms", "phone"):
            remote.append(
                evaluation(
                    f"{ch}{i}",
                    channel=ch,
                    device=None,
                    time_source="import",
                    level=levels[i],
                    occurred_at=f"2026-{day}T14:00:00+08:00",
                )
            )
    _import(server, remote)
    # One excluded on appeal (申诉复核): reported, not counted.
    items = _get(server, "evaluations?hall=H1&limit=1000")["items"]
    target = next(e for e in items if e["channel"] == "evaluator" and e["counted"])
    r = server.client.patch(
        f"/api/v1/evaluations/{target['id']}",
        json={"excluded": True, "reason": "appeal upheld"},
        headers=server.admin,
    )
    assert r.status_code == 200, r.text


def _check_buckets_equal_scores(
    server: Server, scope: str, period: str, grain: str
) -> list[dict[str, Any]]:
    """Every bucket of /trends?<scope>&<period> against /scores?<scope>&from=&to=."""
    body = _get(server, f"trends?{scope}&{period}&grain={grain}")
    assert body["grain"] == grain
    for b in body["buckets"]:
        scores = _get(server, f"scores?{scope}&from={b['from']}&to={b['to']}")
        res = scores["result"]
        assert b["score"] == res["score"], b["label"]
        assert b["alt_score"] == res["alt_score"], b["label"]
        assert b["counted_total"] == res["counted_total"], b["label"]
        assert b["excluded_total"] == res["excluded"]["total"], b["label"]
        assert b["groups"] == [{k: g[k] for k in GROUP_FIELDS} for g in res["groups"]]
        assert b["channels"] == {ch: t["total"] for ch, t in res["channels"].items()}
    return list(body["buckets"])


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_every_bucket_equals_scores_over_its_days(server: Server, grain: str) -> None:
    _quarter_data(server)
    whole = _get(server, "scores?hall=H1&period=2026Q4")["result"]
    for scope in ("hall=H1", "hall=H1&window=A01", "hall=H1&staff=1002"):
        bs = _check_buckets_equal_scores(server, scope, "period=2026Q4", grain)
        assert bs[0]["from"] == "2026-10-01" and bs[-1]["to"] == "2026-12-31"
        if scope == "hall=H1":
            assert sum(b["counted_total"] for b in bs) == whole["counted_total"] > 0
            assert sum(b["excluded_total"] for b in bs) == whole["excluded"]["total"] == 2
    # Every hall (a city admin without hall=) reads the same hourly grain.
    _check_buckets_equal_scores(server, "", "period=2026Q4", grain)


def test_department_scope_reads_the_daily_grain(server: Server) -> None:
    h = server.admin
    r = server.client.post("/api/v1/departments", json={"hall_id": 1, "code": "D1"}, headers=h)
    assert r.status_code == 201, r.text
    server.ingest(
        [
            evaluation("d1", department="D1", level="dissatisfied"),
            evaluation("d2", department="D1", occurred_at="2026-11-25T09:00:00+08:00"),
            evaluation("x", occurred_at="2026-11-25T09:00:00+08:00"),
        ]
    )
    bs = _check_buckets_equal_scores(server, "hall=H1&department=D1", "period=2026-11", "week")
    assert [b["counted_total"] for b in bs] == [0, 0, 0, 0, 2, 0]
    assert bs[4]["groups"][0]["satisfied"] == 1


def test_iso_weeks_are_clipped_to_the_period(server: Server) -> None:
    server.ingest([evaluation("a")])  # Monday 2026-11-23
    bs = _get(server, "trends?hall=H1&period=2026-11&grain=week")["buckets"]
    # 1 Nov 2026 is a Sunday (the end of ISO week 44); 30 Nov a Monday (week 49).
    assert [(b["label"], b["from"], b["to"]) for b in bs] == [
        ("2026-W44", "2026-11-01", "2026-11-01"),
        ("2026-W45", "2026-11-02", "2026-11-08"),
        ("2026-W46", "2026-11-09", "2026-11-15"),
        ("2026-W47", "2026-11-16", "2026-11-22"),
        ("2026-W48", "2026-11-23", "2026-11-29"),
        ("2026-W49", "2026-11-30", "2026-11-30"),
    ]
    assert [b["counted_total"] for b in bs] == [0, 0, 0, 0, 1, 0]
    assert bs[0]["score"]["percent"] is None and bs[0]["score"]["basis"] == "none"
    assert bs[4]["score"]["percent"] == "100.00"
    # An ISO week across the new year keeps its ISO year's label.
    bs = _get(server, "trends?hall=H1&from=2026-12-30&to=2027-01-05&grain=week")["buckets"]
    assert [(b["label"], b["from"], b["to"]) for b in bs] == [
        ("2026-W53", "2026-12-30", "2027-01-03"),
        ("2027-W01", "2027-01-04", "2027-01-05"),
    ]


def test_month_grain_over_a_year(server: Server) -> None:
    server.ingest(
        [
            evaluation(f"m{m}", occurred_at=f"2026-{m:02d}-15T10:00:00+08:00")
            for m in range(2, 13, 2)
        ]
        + [evaluation("bad", level="dissatisfied", occurred_at="2026-12-01T00:10:00+08:00")]
    )
    body = _get(server, "trends?hall=H1&period=2026&grain=month")
    bs = body["buckets"]
    assert body["period"]["label"] == "2026" and body["scope"]["hall"] == "H1"
    assert body["policy"]["name"] == "default-30-30-40"
    assert [b["label"] for b in bs] == [f"2026-{m:02d}" for m in range(1, 13)]
    assert bs[1]["from"] == "2026-02-01" and bs[1]["to"] == "2026-02-28"
    assert [b["counted_total"] for b in bs] == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 2]
    assert bs[11]["score"]["exact"] == "1/2"
    assert bs[11]["channels"]["evaluator"] == 2 and set(bs[11]["channels"]) == set(CHANNELS)
    on_site = bs[11]["groups"][0]
    assert on_site == {
        "name": "on_site",
        "rate": {"exact": "1/2", "percent": "50.00"},
        "satisfied": 1,
        "total": 2,
        "has_data": True,
        "below_min_sample": True,
    }
    _check_buckets_equal_scores(server, "hall=H1", "period=2026", "month")


def test_at_most_400_buckets(server: Server) -> None:
    assert len(_get(server, "trends?hall=H1&period=2026&grain=day")["buckets"]) == 365
    assert len(_get(server, "trends?hall=H1&from=2026-01-01&to=2027-02-04")["buckets"]) == 400
    r = server.client.get(
        "/api/v1/trends?hall=H1&from=2026-01-01&to=2027-02-05", headers=server.admin
    )
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "a day grain over 2026-01-01..2027-02-05 has 401 buckets; at most 400: "
        "choose a coarser grain or a shorter period"
    )
    r = server.client.get(
        "/api/v1/trends?from=2000-01-01&to=2099-12-31&grain=week", headers=server.admin
    )
    assert r.status_code == 422 and "has 5219 buckets; at most 400" in r.json()["detail"]
    months = _get(server, "trends?from=2000-01-01&to=2033-04-30&grain=month")["buckets"]
    assert len(months) == 400


def test_heatmap_places_votes_by_local_weekday_and_hour(server: Server) -> None:
    server.ingest(
        [
            # Monday 2026-11-23, 23:30 in Shanghai.
            evaluation("late", occurred_at="2026-11-23T23:30:00+08:00"),
            # 16:10 UTC on Monday is 00:10 on Tuesday in Shanghai.
            evaluation("early", occurred_at="2026-11-23T16:10:00+00:00", level="dissatisfied"),
            evaluation("vbad", occurred_at="2026-11-29T10:15:00+08:00", level="very_dissatisfied"),
            evaluation(
                "basic", occurred_at="2026-11-29T10:45:00+08:00", level="basically_satisfied"
            ),
            evaluation("flagged", flags=["misuse"], level="dissatisfied"),  # not counted
            evaluation("box", channel="ballot_box", device="BB-1", level="dissatisfied"),
            evaluation("dec", occurred_at="2026-12-01T10:00:00+08:00"),  # outside the period
        ]
    )
    body = _get(server, "heatmap?hall=H1&period=2026-11")
    assert body["timezone"] == "Asia/Shanghai"
    assert body["weekdays"] == [1, 2, 3, 4, 5, 6, 7] and body["hours"] == list(range(24))
    assert body["bad_levels"] == ["dissatisfied", "very_dissatisfied"]
    assert body["scope"] == {"hall": "H1", "channel": None}
    assert body["period"]["label"] == "2026-11"
    votes, bad = body["votes"], body["bad"]
    assert len(votes) == 7 and all(len(row) == 24 for row in votes + bad)
    cells = {(d + 1, h): n for d, row in enumerate(votes) for h, n in enumerate(row) if n}
    bads = {(d + 1, h): n for d, row in enumerate(bad) for h, n in enumerate(row) if n}
    assert cells == {(1, 23): 1, (2, 0): 1, (7, 10): 2, (1, 10): 1}
    assert bads == {(2, 0): 1, (7, 10): 1, (1, 10): 1}
    assert body["total"] == 5 and body["bad_total"] == 3
    scores = _get(server, "scores?hall=H1&period=2026-11")["result"]
    assert body["total"] == scores["counted_total"]
    # One channel: its counted total.
    box = _get(server, "heatmap?hall=H1&period=2026-11&channel=ballot_box")
    assert box["total"] == scores["channels"]["ballot_box"]["total"] == 1
    assert box["bad_total"] == 1 and box["votes"][0][10] == 1
    assert box["scope"] == {"hall": "H1", "channel": "ballot_box"}
    # from/to as /scores.
    ranged = _get(server, "heatmap?hall=H1&from=2026-11-24&to=2026-11-24")
    assert ranged["total"] == 1 and ranged["votes"][1][0] == 1


def test_heatmap_total_equals_scores_over_a_quarter(server: Server) -> None:
    _quarter_data(server)
    for query in ("period=2026Q4", "from=2026-10-05&to=2026-11-23", "period=2026-12-31"):
        body = _get(server, f"heatmap?hall=H1&{query}")
        scores = _get(server, f"scores?hall=H1&{query}")["result"]
        assert body["total"] == scores["counted_total"], query
        assert body["total"] == sum(map(sum, body["votes"]))
        for ch in ("evaluator", "sms", "phone"):
            one = _get(server, f"heatmap?hall=H1&{query}&channel={ch}")
            assert one["total"] == scores["channels"][ch]["total"], (query, ch)


def test_bad_requests_are_4xx_with_their_messages(server: Server) -> None:
    def get(path: str) -> Any:
        return server.client.get(f"/api/v1/{path}", headers=server.admin)

    r = get("trends?hall=H1&period=2026Q4&grain=hour")
    assert r.status_code == 422
    assert r.json()["detail"] == "query.grain: Input should be 'day', 'week' or 'month'"
    r = get("trends?hall=NOPE&period=2026Q4")
    assert r.status_code == 404 and r.json()["detail"] == "unknown hall 'NOPE'"
    r = get("trends?hall=H1&window=Z99&period=2026Q4")
    assert r.status_code == 404 and r.json()["detail"] == "unknown window 'Z99' in this hall"
    r = get("trends?hall=H1&staff=9999&period=2026Q4")
    assert r.json()["detail"] == "unknown staff member '9999' in this hall"
    r = get("trends?window=A01&period=2026Q4")
    assert r.status_code == 400 and r.json()["detail"] == "window, department and staff need hall="
    r = get("trends?hall=H1")
    assert r.status_code == 400 and r.json()["detail"].startswith("give period=")
    r = get("trends?hall=H1&period=2026Q4&from=2026-10-01&to=2026-10-02")
    assert r.status_code == 400
    assert r.json()["detail"] == "give either period= or from= and to=, not both"
    r = get("trends?hall=H1&period=2026Q5")
    assert r.status_code == 400 and "not understood" in r.json()["detail"]
    r = get("trends?hall=H1&from=2026-10-05&to=2026-10-01")
    assert r.status_code == 400
    assert r.json()["detail"] == "range ends (2026-10-01) before it starts (2026-10-05)"
    r = get("heatmap?period=2026Q4")
    assert r.status_code == 422 and r.json()["detail"] == "give hall=: a heat map is of one hall"
    r = get("heatmap?hall=H1&period=2026Q4&channel=fax")
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "query.channel: Input should be 'evaluator', 'ballot_box', 'sms', 'phone', 'online' "
        "or 'system_default'"
    )
    r = get("heatmap?hall=NOPE&period=2026Q4")
    assert r.status_code == 404 and r.json()["detail"] == "unknown hall 'NOPE'"
    r = get("heatmap?hall=H1&period=1999")
    assert r.status_code == 400
    for path in ("trends?hall=H1&period=2026Q4", "heatmap?hall=H1&period=2026Q4"):
        r = server.client.get(f"/api/v1/{path}")
        assert r.status_code == 401


def test_a_viewer_of_one_hall_cannot_read_another(server: Server) -> None:
    c, h = server.client, server.admin
    assert (
        c.post("/api/v1/halls", json={"code": "H2", "name": "二厅"}, headers=h).status_code == 201
    )
    user = {"username": "view", "password": "password1", "role": "viewer", "hall_id": 1}
    assert c.post("/api/v1/users", json=user, headers=h).status_code == 201
    viewer = server.login("view", "password1")
    server.ingest([evaluation("a")])
    for path in ("trends", "heatmap"):
        r = c.get(f"/api/v1/{path}?hall=H2&period=2026Q4", headers=viewer)
        assert r.status_code == 403, path
        assert r.json()["detail"] == "this account may only see its own hall"
        # Without hall= the viewer gets its own hall.
        own = _get(server, f"{path}?period=2026-11", headers=viewer)
        assert own["scope"]["hall"] == "H1"
    assert _get(server, "heatmap?period=2026-11", headers=viewer)["total"] == 1
    trend = _get(server, "trends?period=2026-11&grain=month", headers=viewer)
    assert trend["buckets"][0]["counted_total"] == 1


def test_channel_choices_are_the_policy_channels() -> None:
    assert get_args(Channel) == CHANNELS


def test_trends_and_heatmap_take_the_scores_slots() -> None:
    limits = Limits(16384, 8 << 20, 32, 4, 4, 10.0)
    gates = RequestLimits(lambda *_: None, limits)  # type: ignore[arg-type]
    scores = gates.gate("/api/v1/scores")
    assert scores is gates.gates["scores"]
    assert gates.gate("/api/v1/trends") is scores
    assert gates.gate("/api/v1/heatmap") is scores


def test_bucket_memo_repeats_the_figures_of_equal_counts() -> None:
    policy = Policy.default()
    memo = BucketMemo(policy, size=2)
    a = {"evaluator": {"satisfied": 3, "dissatisfied": 1}}
    b = {"sms": {"satisfied": 1}}
    first = memo.get(a, {})
    assert first == bucket_figures(scoring.score(a, policy, {}))
    assert first["score"]["exact"] == "3/4" and first["counted_total"] == 4
    # The same counts in another key order: the same entry.
    assert memo.get({"evaluator": {"dissatisfied": 1, "satisfied": 3}}, {}) is first
    memo.get(b, {})
    memo.get({}, b)  # excluded only: a third entry; the oldest (a) goes
    assert len(memo.entries) == 2
    assert memo.get(a, {}) == first and memo.get(a, {}) is not first
