"""GET /api/v1/cases/figures on SQLite and PostgreSQL over case rows as the engine leaves them:
hand-counted figures, per hall and per office, scope by role, bad input."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from tests.server.callbacks.figures_data import user
from tests.server.cases import case_rows as cr
from tests.server.conftest import Server

URL = "/api/v1/cases/figures"


def _session(server: Server) -> Session:
    return server.client.app.state.sessionmaker()  # type: ignore[attr-defined]


def seed(server: Server) -> None:
    """November 2026. H1: two 差评 called back and rectified, one withdrawn on appeal; a complaint
    closed late after 督办; a 办不成事 answered on time, one open past its (extended) due day.
    H2: one 差评 not called back."""
    d = date
    with _session(server) as s:
        h1, h2 = cr.hall(s, "H1"), cr.hall(s, "H2")
        d1 = cr.department(s, h1, "D1", "市场监管")
        d2 = cr.department(s, h1, "D2", "税务")
        cr.case(s, h1, "bad_rating", d(2026, 11, 2), closed=d(2026, 11, 10),
                evaluation_id=cr.evaluation(s, h1, d(2026, 11, 2)).id, department_id=d1.id,
                called_back_at=cr.at(d(2026, 11, 3)), feedback="satisfied",
                rectification="窗口人员服务规范培训")  # fmt: skip
        cr.case(s, h1, "bad_rating", d(2026, 11, 9), closed=d(2026, 11, 20),
                evaluation_id=cr.evaluation(s, h1, d(2026, 11, 9)).id, department_id=d2.id,
                called_back_at=cr.at(d(2026, 11, 9), 15), rectification="优化叫号流程")  # fmt: skip
        cr.case(s, h1, "bad_rating", d(2026, 11, 16), closed=d(2026, 11, 16),
                evaluation_id=cr.evaluation(s, h1, d(2026, 11, 16), counted=False).id)  # fmt: skip
        complaint = cr.case(s, h1, "complaint", d(2026, 11, 4), closed=d(2026, 11, 13),
                            assignee_department_id=d1.id, feedback="dissatisfied")  # fmt: skip
        cr.escalate(s, complaint, d(2026, 11, 16))
        cr.case(s, h1, "cannot_do", d(2026, 11, 5), closed=d(2026, 11, 6),
                assignee_department_id=d2.id, feedback="satisfied")  # fmt: skip
        cr.case(s, h1, "cannot_do", d(2026, 11, 2), category="complex", extended_days=2,
                assignee_department_id=d2.id, state="handling")  # fmt: skip
        cr.case(s, h2, "bad_rating", d(2026, 11, 10),
                evaluation_id=cr.evaluation(s, h2, d(2026, 11, 10)).id)  # fmt: skip
        user(s, "h2view", "viewer", h2.id, "h2view-password")
        s.commit()


def _get(server: Server, headers: dict[str, str] | None = None, **params: str) -> dict:  # type: ignore[type-arg]
    r = server.client.get(URL, params=params, headers=headers or server.admin)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_figures_of_a_hall(server: Server) -> None:
    seed(server)
    body = _get(server, hall="H1", period="2026-11")
    assert body["scope"] == {"hall": "H1"} and body["period"]["label"] == "2026-11"
    assert body["by"] == "hall" and [i["hall"] for i in body["items"]] == ["H1"]
    total = body["total"]
    assert total == {k: v for k, v in body["items"][0].items() if k not in ("hall", "hall_name")}
    for name in ("callback_rate", "callback_on_time_rate", "rectification_rate"):
        assert total[name]["rate"] == {"exact": "1/1", "percent": "100.00"}, name
        assert (total[name]["numerator"], total[name]["denominator"]) == (2, 2)
    bad = total["kinds"]["bad_rating"]
    assert (bad["opened"], bad["withdrawn"], bad["called_back"], bad["rectified"]) == (3, 1, 2, 2)
    assert (bad["closed"], bad["closed_on_time"], bad["open"], bad["overdue"]) == (3, 3, 0, 0)
    complaint = total["kinds"]["complaint"]
    assert (complaint["opened"], complaint["closed_late"], complaint["overdue"]) == (1, 1, 1)
    assert complaint["escalated"] == 1
    assert complaint["satisfaction"]["rate"]["rate"] == {"exact": "0/1", "percent": "0.00"}
    cannot = total["kinds"]["cannot_do"]
    assert (cannot["opened"], cannot["open"], cannot["overdue_open"], cannot["extended"]) == (
        2,
        1,
        1,
        1,
    )
    assert cannot["closed_on_time_rate"]["rate"]["percent"] == "100.00"
    assert cannot["median_days_to_close"]["value"] == 1.0
    assert cannot["median_hours_to_close"]["value"] == 30.0  # 10:00 to 16:00 the next day
    assert cannot["satisfaction"]["rate"]["rate"]["exact"] == "1/1"
    assert body["policy"]["cases"]["bad_rating_rectify_days"] == 15
    assert body["definitions"]["overdue"]["en"] == "overdue = overdue_open + overdue_closed"
    # from/to of the same days is the same answer.
    same = _get(server, hall="H1", **{"from": "2026-11-01", "to": "2026-11-30"})
    assert same["total"] == total and same["period"]["kind"] == "range"


def test_every_hall_by_department_and_an_empty_period(server: Server) -> None:
    seed(server)
    body = _get(server, period="2026Q4")
    assert body["scope"] == {"hall": None}
    assert [i["hall"] for i in body["items"]] == ["H1", "H2"]
    assert body["total"]["callback_rate"]["rate"]["exact"] == "2/3"
    assert body["items"][1]["callback_rate"]["rate"] == {"exact": "0/1", "percent": "0.00"}
    dep = _get(server, hall="H1", period="2026-11", by="department")
    rows = [(i["department"], i["department_name"]) for i in dep["items"]]
    assert rows == [("D1", "市场监管"), ("D2", "税务"), (None, "")]
    opened = [{k: v["opened"] for k, v in i["kinds"].items()} for i in dep["items"]]
    assert opened == [
        {"bad_rating": 1, "complaint": 1, "cannot_do": 0},
        {"bad_rating": 1, "complaint": 0, "cannot_do": 2},
        {"bad_rating": 1, "complaint": 0, "cannot_do": 0},
    ]
    assert dep["items"][2]["callback_rate"]["rate"] is None  # only the withdrawn one
    assert dep["items"][2]["callback_rate"]["null_reason"]["en"].startswith("no bad_rating")
    # An empty period: no items, null rates with their reason.
    body = _get(server, hall="H1", period="2026-12")
    assert body["items"] == []
    assert body["total"]["callback_rate"]["rate"] is None
    assert body["total"]["rectification_rate"]["null_reason"]["zh"].startswith("本期没有")


def test_a_hall_account_sees_its_own_hall(server: Server) -> None:
    seed(server)
    viewer = server.login("h2view", "h2view-password")
    body = _get(server, viewer, period="2026-11")
    assert body["scope"] == {"hall": "H2"} and [i["hall"] for i in body["items"]] == ["H2"]
    assert body["total"]["callback_rate"]["rate"]["exact"] == "0/1"
    r = server.client.get(URL, params={"hall": "H1", "period": "2026-11"}, headers=viewer)
    assert r.status_code == 403 and "own hall" in r.json()["detail"]


def test_bad_requests_are_4xx_with_a_message(server: Server) -> None:
    cases = [
        ({"period": "2026Q5"}, 400, "not understood"),
        ({}, 400, "give period="),
        ({"from": "2026-11-01"}, 400, "give period="),
        ({"period": "2026-11", "from": "2026-11-01", "to": "2026-11-30"}, 400, "not both"),
        ({"from": "2026-11-30", "to": "2026-11-01"}, 400, "before it starts"),
        ({"period": "2026-11", "by": "window"}, 422, "by"),
        ({"period": "2026-11", "hall": "H9"}, 404, "unknown hall 'H9'"),
    ]
    for params, status, words in cases:
        r = server.client.get(URL, params=params, headers=server.admin)
        assert r.status_code == status, (params, r.text)
        assert words in r.json()["detail"], (params, r.text)
    assert server.client.get(URL, params={"period": "2026-11"}).status_code == 401
