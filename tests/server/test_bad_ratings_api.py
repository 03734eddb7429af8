"""GET /api/v1/bad-ratings on SQLite and PostgreSQL (docs/api.md "差评 list"): the rows of the
monthly 差评 report, newest first, a page at a time; ``total`` equals the report's 差评数 and the
bad levels' counts of /scores; filters, paging bounds, each 差评's case, no personal data."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from server.models import Evaluation, Hall, Ticket
from server.models.cases import Case
from server.policy import Policy
from tests.server.callbacks import figures_data as fd
from tests.server.conftest import Server, evaluation, serve
from tests.server.reports.report_data import INJECTION, seed

URL = "/api/v1/bad-ratings"
STATES = ("accepted", "assigned", "handling", "callback", "closed", "returned", "none")


@pytest.fixture
def seeded(server: Server) -> Server:
    seed(server)  # H1: 2026 Q4 ratings of five windows, 差评 with reasons, a case each
    return server


def _get(server: Server, headers: dict[str, str] | None = None, **params: Any) -> Any:
    r = server.client.get(URL, params=params, headers=headers or server.admin)
    assert r.status_code == 200, r.text
    return r.json()


def _all(server: Server, **params: Any) -> list[dict[str, Any]]:
    """Every item, a page of 7 at a time."""
    out: list[dict[str, Any]] = []
    while True:
        page = _get(server, limit=7, offset=len(out), **params)
        out += page["items"]
        if not page["items"]:
            assert len(out) == page["total"]
            return out


def _bad_counts(server: Server, **params: str) -> int:
    policy: Policy = server.client.app.state.policy  # type: ignore[attr-defined]
    r = server.client.get("/api/v1/scores", params=params, headers=server.admin)
    assert r.status_code == 200, r.text
    channels = r.json()["result"]["channels"].values()
    return sum(c["counts"][lv] for c in channels for lv in policy.cases.bad_levels)


def _stored_bad(server: Server, start: date, end: date) -> list[int]:
    """The counted 差评 of H1 in [start, end) as stored, newest first."""
    policy: Policy = server.client.app.state.policy  # type: ignore[attr-defined]
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        e = Evaluation
        return list(
            s.scalars(
                select(e.id)
                .join(Hall, Hall.id == e.hall_id)
                .where(
                    Hall.code == "H1",
                    e.counted.is_(True),
                    e.level.in_(policy.cases.bad_levels),
                    e.local_day >= start,
                    e.local_day < end,
                )
                .order_by(e.occurred_at.desc(), e.id.desc())
            )
        )


def test_total_and_rows_equal_the_report_and_scores(seeded: Server) -> None:
    page = _get(seeded, hall="H1", period="2026-11")
    assert page["scope"]["hall"] == "H1" and page["period"]["label"] == "2026-11"
    assert page["bad_levels"] == ["dissatisfied", "very_dissatisfied"]
    assert (page["limit"], page["offset"]) == (100, 0)
    r = seeded.client.get(
        "/api/v1/reports/bad.xlsx", params={"period": "2026-11", "hall": "H1"}, headers=seeded.admin
    )
    assert r.status_code == 200, r.text
    book = load_workbook(io.BytesIO(r.content))
    figures = {row[0]: row[1] for row in book["说明"].iter_rows(values_only=True) if row[0]}
    report_rows = list(book["差评明细及整改跟踪"].iter_rows(values_only=True))[1:]
    total = page["total"]
    assert total == figures["差评数"] == _bad_counts(seeded, hall="H1", period="2026-11") > 3
    # The same rows, the report oldest first, the API newest first.
    items = page["items"]
    assert len(items) == total == len(report_rows)
    for item, row in zip(reversed(items), report_rows, strict=True):
        assert item["occurred_local"] == row[1].strftime("%Y-%m-%d %H:%M")
        assert item["case"]["number"] == row[8]
        assert "、".join(item["reasons"]) == row[6]
        assert f"{item['window']['code']} {item['window']['name']}" == row[4]
        assert f"{item['staff']['name']}（{item['staff']['number']}）" == row[5]
    assert [it["evaluation_id"] for it in items] == _stored_bad(
        seeded, date(2026, 11, 1), date(2026, 12, 1)
    )
    # The same holds over a quarter and with from/to.
    quarter = _get(seeded, hall="H1", **{"from": "2026-10-01", "to": "2026-12-31"})
    assert quarter["total"] == _bad_counts(seeded, hall="H1", period="2026Q4")
    assert quarter["total"] == _get(seeded, hall="H1", period="2026Q4")["total"]
    assert (quarter["period"]["start"], quarter["period"]["end_inclusive"]) == (
        "2026-10-01",
        "2026-12-31",
    )


def test_items_newest_first_with_their_fields(seeded: Server) -> None:
    items = _get(seeded, hall="H1", period="2026Q4", limit=500)["items"]
    assert [it["evaluation_id"] for it in items] == _stored_bad(
        seeded, date(2026, 10, 1), date(2027, 1, 1)
    )
    keys = [(it["occurred_at"], it["evaluation_id"]) for it in items]
    assert keys == sorted(keys, reverse=True)
    first = items[0]
    assert set(first) == {
        "evaluation_id",
        "occurred_at",
        "occurred_local",
        "channel",
        "level",
        "window",
        "staff",
        "reasons",
        "comment",
        "case",
    }
    for it in items:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", it["occurred_at"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", it["occurred_local"])
        assert it["level"] in ("dissatisfied", "very_dissatisfied")
        assert set(it["case"]) == {
            "id",
            "number",
            "state",
            "flag",
            "due",
            "closed_day",
            "closed_on_time",
        }
        assert it["reasons"] in (["态度不好", "等候时间长"], ["材料反复提交"])
    # 10:1x in Shanghai is 02:1x UTC: both forms of the one instant.
    local, utc = first["occurred_local"], first["occurred_at"]
    assert int(local[11:13]) - 8 == int(utc[11:13]) and local[14:16] == utc[14:16]
    assert any(it["comment"] == INJECTION for it in items)  # JSON: the text as given


def test_filters(seeded: Server) -> None:
    everything = _all(seeded, hall="H1", period="2026Q4")
    for params, check in [
        ({"window": "A02"}, lambda it: it["window"]["code"] == "A02"),
        ({"staff": "1003"}, lambda it: it["staff"]["number"] == "1003"),
        ({"channel": "sms"}, lambda it: it["channel"] == "sms"),
        ({"window": "A04", "channel": "phone"}, lambda it: it["window"]["code"] == "A04"),
    ]:
        got = _all(seeded, hall="H1", period="2026Q4", **params)
        assert got and all(check(it) for it in got), params
        assert got == [it for it in everything if check(it) and _channel_ok(it, params)]
        if "channel" not in params:
            assert len(got) == _bad_counts(seeded, hall="H1", period="2026Q4", **params)
    sms = _get(seeded, hall="H1", period="2026Q4", channel="sms")["total"]
    r = seeded.client.get(
        "/api/v1/scores", params={"hall": "H1", "period": "2026Q4"}, headers=seeded.admin
    )
    counts = r.json()["result"]["channels"]["sms"]["counts"]
    assert sms == counts["dissatisfied"] + counts["very_dissatisfied"]
    # The case states partition the list.
    per_state = {s: _get(seeded, hall="H1", period="2026Q4", case_state=s)["total"] for s in STATES}
    assert sum(per_state.values()) == len(everything)
    assert per_state["closed"] == 1 and per_state["none"] == 0


def _channel_ok(it: dict[str, Any], params: dict[str, str]) -> bool:
    return "channel" not in params or it["channel"] == params["channel"]


@pytest.fixture
def quiet(migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The seeded hall without the case clock's ticks (flags change only when the test says)."""
    monkeypatch.setenv("HALLRATE_CASES_TICK_SECONDS", "0")
    for server in serve(migrated_url, tmp_path):
        seed(server)
        yield server


def test_case_state_flag_and_closing_are_shown(quiet: Server) -> None:
    seeded = quiet
    with seeded.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        cases = s.scalars(select(Case).order_by(Case.id)).all()
        closed, other, flagged = cases[0], cases[1], cases[2]
        flagged.flag = "red"  # as the flags job leaves an overdue case
        s.commit()
        closed_id, other_id, flagged_id = closed.id, other.id, flagged.id
        closed_due, closed_eval = closed.due, closed.evaluation_id
    # The case API moves one case on: 承办 by department D01.
    case = seeded.client.get(f"/api/v1/cases/{other_id}", headers=seeded.admin).json()
    r = seeded.client.post(
        f"/api/v1/cases/{other_id}/actions",
        json={
            "action": "assign",
            "version": case["version"],
            "fields": {"assignee_department": "D01"},
        },
        headers=seeded.admin,
    )
    assert r.status_code == 200 and r.json()["state"] == "assigned", r.text
    items = {it["case"]["id"]: it for it in _all(seeded, hall="H1", period="2026Q4")}
    with seeded.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        for row in s.scalars(select(Case)):
            assert items[row.id]["evaluation_id"] == row.evaluation_id
            assert items[row.id]["case"] == {
                "id": row.id,
                "number": row.number,
                "state": row.state,
                "flag": row.flag,
                "due": row.due.isoformat(),
                "closed_day": row.closed_day.isoformat() if row.closed_day else None,
                "closed_on_time": row.closed_on_time,
            }
    assert items[closed_id]["evaluation_id"] == closed_eval
    assert items[closed_id]["case"] == {
        "id": closed_id,
        "number": items[closed_id]["case"]["number"],
        "state": "closed",
        "flag": items[closed_id]["case"]["flag"],  # whatever the flags job left
        "due": closed_due.isoformat(),
        "closed_day": "2026-11-20",
        "closed_on_time": True,
    }
    assert items[other_id]["case"]["state"] == "assigned"
    assert items[other_id]["case"]["closed_day"] is None
    assert items[other_id]["case"]["closed_on_time"] is None
    assert items[flagged_id]["case"]["flag"] == "red"
    assigned = _get(seeded, hall="H1", period="2026Q4", case_state="assigned")
    assert [it["case"]["id"] for it in assigned["items"]] == [other_id]
    assert assigned["total"] == 1


@pytest.fixture
def no_cases(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    policy = tmp_path / "policy.toml"
    policy.write_text("[cases]\nopen_on_bad_rating = false\n", encoding="utf-8")
    yield from serve(migrated_url, tmp_path, policy_file=policy)


def test_a_bad_rating_without_a_case(no_cases: Server) -> None:
    no_cases.ingest(
        [
            evaluation("b1", level="dissatisfied", window="A01", staff="1001"),
            evaluation("b2", level="very_dissatisfied", window=None, staff=None),
            evaluation("ok", level="satisfied"),
        ]
    )
    page = _get(no_cases, hall="H1", period="2026-11")
    assert (
        page["total"]
        == 2
        == _get(no_cases, hall="H1", period="2026-11", case_state="none")["total"]
    )
    assert [it["case"] for it in page["items"]] == [None, None]
    assert {it["window"]["code"] if it["window"] else None for it in page["items"]} == {
        "A01",
        None,
    }
    assert _get(no_cases, hall="H1", period="2026-11", case_state="accepted")["total"] == 0


def test_paging_bounds(seeded: Server) -> None:
    full = _get(seeded, hall="H1", period="2026Q4", limit=500)
    assert _all(seeded, hall="H1", period="2026Q4") == full["items"]
    assert len(_get(seeded, hall="H1", period="2026Q4", limit=1)["items"]) == 1
    beyond = _get(seeded, hall="H1", period="2026Q4", offset=full["total"])
    assert beyond["items"] == [] and beyond["total"] == full["total"]
    c = seeded.client
    for params, message in [
        ({"limit": "0"}, "query.limit: Input should be greater than or equal to 1"),
        ({"limit": "501"}, "query.limit: Input should be less than or equal to 500"),
        ({"limit": "x"}, "query.limit: Input should be a valid integer"),
        ({"offset": "-1"}, "query.offset: Input should be greater than or equal to 0"),
        ({"offset": "1000001"}, "query.offset: Input should be less than or equal to 1000000"),
        ({"channel": "fax"}, "query.channel: Input should be"),
        ({"case_state": "lost"}, "query.case_state: Input should be"),
    ]:
        r = c.get(URL, params={"hall": "H1", "period": "2026Q4", **params}, headers=seeded.admin)
        assert r.status_code == 422 and message in r.json()["detail"], (params, r.text)


def test_bad_queries_are_4xx(seeded: Server) -> None:
    with seeded.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        fd.user(s, "h1viewer", "viewer", fd.hall(s, "H1").id, "h1viewer-password")
        s.commit()
    viewer = seeded.login("h1viewer", "h1viewer-password")
    for params, status, message in [
        ({"period": "2026Q4"}, 400, "give hall= (the 差评 list is one hall's)"),
        ({"hall": "NOPE", "period": "2026Q4"}, 404, "unknown hall 'NOPE'"),
        ({"hall": "H1", "period": "2026Q5"}, 400, "2026Q5"),
        ({"hall": "H1"}, 400, "give period="),
        ({"hall": "H1", "period": "2026Q4", "from": "2026-10-01"}, 400, "not both"),
        ({"hall": "H1", "period": "2026Q4", "window": "ZZ"}, 404, "unknown window 'ZZ'"),
        ({"hall": "H1", "period": "2026Q4", "staff": "9999"}, 404, "unknown staff member"),
        ({"period": "2026Q4", "window": "A01"}, 400, "window, department and staff need hall="),
    ]:
        r = seeded.client.get(URL, params=params, headers=seeded.admin)
        assert r.status_code == status and message in r.json()["detail"], (params, r.text)
    r = seeded.client.get(URL, params={"hall": "H2", "period": "2026Q4"}, headers=viewer)
    assert r.status_code == 403 and "own hall" in r.json()["detail"]
    own = _get(seeded, headers=viewer, period="2026Q4")  # no hall=: the viewer's own
    assert own["scope"]["hall"] == "H1" and own["total"] > 0
    assert seeded.client.get(URL, params={"hall": "H1", "period": "2026Q4"}).status_code == 401


def test_no_personal_data(seeded: Server) -> None:
    """A 差评 whose ticket and case carry the citizen's phone number and name, and whose comment
    names a number: the list shows none of them."""
    phone = "13812345678"
    r = seeded.client.post(
        "/api/v1/ingest/tickets",
        json={
            "gateway": "gw-h1",
            "records": [
                {
                    "key": "H1:2026-11-23:P001",
                    "hall": "H1",
                    "number": "P001",
                    "window": "A03",
                    "phone": phone,
                    "issued_at": "2026-11-23T09:00:00+08:00",
                }
            ],
        },
        headers=seeded.gw,
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    comment = f"请回电 {phone}"
    seeded.ingest([evaluation("pd", level="dissatisfied", ticket="P001", comment=comment)])
    cipher = seeded.settings.phone_cipher
    with seeded.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        assert s.scalars(select(Ticket).where(Ticket.number == "P001")).one().phone_enc
        case = s.scalars(
            select(Case)
            .join(Evaluation, Evaluation.id == Case.evaluation_id)
            .where(Evaluation.key == "pd")
        ).one()
        case.phone_enc, case.phone_hash = cipher.seal(phone)
        case.citizen_name = "李四"
        case_id = case.id
        s.commit()
    r = seeded.client.get(URL, params={"hall": "H1", "period": "2026-11"}, headers=seeded.admin)
    assert r.status_code == 200
    item = next(it for it in r.json()["items"] if it["case"]["id"] == case_id)
    assert item["comment"] == "请回电 138****5678"  # stored masked at ingest
    assert phone not in r.text and "李四" not in r.text
    assert not re.search(r"1[3-9]\d{9}", r.text)
