"""GET /api/v1/callbacks/stats on SQLite and PostgreSQL over rows as the draw and the calls
leave them: hand-counted figures, the phone 满意率 equal to /scores' phone channel, agents,
scope by role, an empty period."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from tests.server.callbacks import figures_data as fd
from tests.server.conftest import Server

DAY = date(2026, 11, 23)  # the work day; tickets served on the 22nd


def _session(server: Server) -> Session:
    return server.client.app.state.sessionmaker()  # type: ignore[attr-defined]


def seed(server: Server) -> None:
    """H1, 2026-11-23: 3 completed, 1 no-answer (open, overdue), 1 refusal, 1 invalid number,
    1 other (open, due later), 1 never called (overdue), 1 not needed, 1 reserve opened,
    1 reserve waiting. H2 in the period: 1 completed. H1 in December: 1 refusal (not counted)."""
    cipher = server.settings.phone_cipher
    past, later = fd.at(DAY, 17, 30), fd.at(DAY + timedelta(days=3650), 17, 30)
    with _session(server) as s:
        h1, h2 = fd.hall(s, "H1"), fd.hall(s, "H2")
        wl = fd.worklist(s, h1, DAY)
        e = [
            fd.entry(s, wl, n, cipher, due_at=later if n in (7, 10) else past) for n in range(1, 12)
        ]
        t = [fd.at(DAY, 9, m) for m in range(20)]
        for i, (who, disposition) in enumerate(
            [("wang", "completed"), ("wang", "no_answer"), ("li", "completed")]
        ):
            fd.attempt(s, e[i], who, disposition, t[i], "very_satisfied" if i == 0 else None)
        fd.attempt(s, e[1], "li", "completed", t[5], "satisfied")
        fd.attempt(s, e[3], "wang", "no_answer", t[6])
        fd.attempt(s, e[4], "li", "refused", t[7])
        fd.attempt(s, e[5], "wang", "invalid_number", t[8])
        fd.attempt(s, e[6], "li", "other", t[9])
        for i in (0, 1, 2):
            e[i].state = "completed"
        e[4].state = e[5].state = "closed"
        e[8].state = "not_needed"
        e[9].reserve = e[10].reserve = True
        e[10].state = "reserve"
        for key, level in (("callback:1", "very_satisfied"), ("callback:2", "satisfied"),
                           ("callback:3", "dissatisfied")):  # fmt: skip
            fd.phone_evaluation(s, "H1", key, level, fd.at(DAY, 10))
        other = fd.entry(s, fd.worklist(s, h2, DAY), 1, cipher, state="completed")
        fd.attempt(s, other, "zhao", "completed", t[1], "satisfied")
        fd.phone_evaluation(s, "H2", "callback:x", "satisfied", fd.at(DAY, 11))
        dec = fd.entry(s, fd.worklist(s, h1, date(2026, 12, 1)), 50, cipher, state="closed")
        fd.attempt(s, dec, "wang", "refused", fd.at(date(2026, 12, 1), 9))
        fd.user(s, "h1admin", "hall_admin", h1.id, "h1admin-password")
        fd.user(s, "h2view", "viewer", h2.id, "h2view-password")
        s.commit()


def test_figures_of_a_hall_and_period(server: Server) -> None:
    seed(server)
    r = server.client.get(
        "/api/v1/callbacks/stats", params={"hall": "H1", "period": "2026-11"}, headers=server.admin
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == {"hall": "H1"} and body["period"]["label"] == "2026-11"
    assert (body["planned"], body["reserves"], body["activated_reserves"]) == (9, 2, 1)
    assert (body["waiting_reserves"], body["attempted"], body["completed"]) == (1, 7, 3)
    assert (body["closed"], body["open"], body["not_needed"], body["overdue"]) == (2, 4, 1, 2)
    assert body["aapor"] == {"I": 3, "R": 1, "NC": 1, "O": 1, "NE": 1}
    assert body["dispositions"]["no_answer"] == 1  # e2's no-answer is not its final outcome
    rates = body["rates"]
    assert rates["response_rate"]["rate"] == {"exact": "1/2", "percent": "50.00"}  # 3/6
    assert rates["refusal_rate"]["rate"] == {"exact": "1/6", "percent": "16.67"}
    assert rates["contact_rate"]["rate"] == {"exact": "5/6", "percent": "83.33"}
    assert rates["contact_rate"]["formula"] == "(I + R + O) / (I + R + NC + O)"
    sat = body["satisfaction"]
    assert (sat["total"], sat["satisfied"], sat["rate"]["exact"]) == (3, 2, "2/3")
    assert sat["below_min_sample"] is True and sat["satisfied_levels"] == [
        "very_satisfied",
        "satisfied",
    ]
    score = server.client.get(
        "/api/v1/scores", params={"hall": "H1", "period": "2026-11"}, headers=server.admin
    ).json()
    phone = score["result"]["channels"]["phone"]
    for name in ("counts", "total", "satisfied", "rate", "below_min_sample"):
        assert sat[name] == phone[name], name
    assert [(a["username"], a["attempts"], a["completed"]) for a in body["agents"]] == [
        ("li", 4, 2),
        ("wang", 4, 1),
    ]
    wang = body["agents"][1]
    first, last = (datetime.fromisoformat(wang[k]) for k in ("first_at", "last_at"))
    assert (first, last) == (fd.at(DAY, 9, 0), fd.at(DAY, 9, 8))
    assert [h["hall"] for h in body["halls"]] == ["H1"]


def test_all_halls_for_a_city_admin_and_own_hall_for_others(server: Server) -> None:
    seed(server)
    r = server.client.get("/api/v1/callbacks/stats?period=2026-11", headers=server.admin)
    body = r.json()
    assert body["scope"] == {"hall": None}
    assert body["completed"] == 4 and body["satisfaction"]["total"] == 4
    assert [(h["hall"], h["completed"], h["satisfaction"]["total"]) for h in body["halls"]] == [
        ("H1", 3, 3),
        ("H2", 1, 1),
    ]
    admin = server.login("h1admin", "h1admin-password")
    own = server.client.get("/api/v1/callbacks/stats?period=2026-11", headers=admin).json()
    assert own["scope"] == {"hall": "H1"} and own["completed"] == 3
    viewer = server.login("h2view", "h2view-password")
    r = server.client.get("/api/v1/callbacks/stats?hall=H1&period=2026-11", headers=viewer)
    assert r.status_code == 403
    assert (
        server.client.get("/api/v1/callbacks/stats?hall=H2&period=2026Q4", headers=viewer).json()[
            "completed"
        ]
        == 1
    )


def test_december_and_an_empty_period(server: Server) -> None:
    seed(server)
    get = server.client.get
    dec = get("/api/v1/callbacks/stats?hall=H1&from=2026-12-01&to=2026-12-31", headers=server.admin)
    assert dec.json()["aapor"]["R"] == 1 and dec.json()["planned"] == 1
    empty = get("/api/v1/callbacks/stats?hall=H1&period=2026-06", headers=server.admin).json()
    assert empty["planned"] == empty["attempted"] == empty["satisfaction"]["total"] == 0
    assert empty["agents"] == [] and empty["satisfaction"]["rate"] is None
    assert all(rate["rate"] is None for rate in empty["rates"].values())


def test_bad_requests(server: Server) -> None:
    get = server.client.get
    assert get("/api/v1/callbacks/stats?hall=H1").status_code == 401
    assert get("/api/v1/callbacks/stats?hall=H1", headers=server.admin).status_code == 400
    r = get("/api/v1/callbacks/stats?hall=H1&period=2026Q5", headers=server.admin)
    assert r.status_code == 400
    r = get("/api/v1/callbacks/stats?hall=NOPE&period=2026Q4", headers=server.admin)
    assert r.status_code == 404
    r = get(
        "/api/v1/callbacks/stats?period=2026Q4&from=2026-10-01&to=2026-10-02", headers=server.admin
    )
    assert r.status_code == 400
