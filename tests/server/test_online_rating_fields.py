"""What the rating page stores beyond level and attribution (needs the ingest record fields
ticket_day / late / comment / reasons and 一次一评 of the onerating branch): GET
/api/v1/evaluations shows them. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.server.conftest import Server, evaluation, serve
from tests.server.online_fixtures import DAY, add_ticket, at, evaluations, link, rate, set_clock


def _token(server: Server, number: str = "A012") -> str:
    set_clock(server, at(DAY, 16))
    add_ticket(server, number)
    return str(link(server, number)["token"])


def test_comment_reasons_and_ticket_day_are_stored(server: Server) -> None:
    token = _token(server)
    r = rate(
        server,
        token,
        "very_dissatisfied",
        step="first",
        reasons=["效率低", "态度不好", "效率低"],
        comment="  等了\n很久，请回电 13800138000  ",
    )
    assert r.status_code == 303
    (ev,) = evaluations(server)
    assert ev["ticket_day"] == "2026-12-03" and ev["late"] is False
    assert ev["reasons"] == ["效率低", "态度不好"]
    assert ev["comment"] == "等了 很久，请回电 138****8000"  # phone numbers masked at store
    page = server.client.get(f"/r/{token}").text
    assert "效率低、态度不好" in page and "138****8000" in page and "13800138000" not in page


def test_reasons_with_a_good_level_are_dropped(server: Server) -> None:
    token = _token(server)
    assert rate(server, token, "satisfied", step="first", reasons=["态度不好"]).status_code == 303
    (ev,) = evaluations(server)
    assert ev["reasons"] == []


def test_a_form_resent_without_step_is_not_a_followup(server: Server) -> None:
    """A client that does not send ``step`` (the simulator): the same form again is the same
    first rating, a different one the 追评."""
    token = _token(server)
    form = {"reasons": ["其他"], "comment": "太慢"}
    assert rate(server, token, "dissatisfied", **form).status_code == 303
    assert rate(server, token, "dissatisfied", **form).status_code == 303
    assert [e["key"] for e in evaluations(server)] == ["online:2026-12-03:A012"]
    assert rate(server, token, "satisfied").status_code == 303
    keys = sorted(e["key"] for e in evaluations(server))
    assert keys == ["online:2026-12-03:A012", "online:2026-12-03:A012:followup"]


def test_an_online_rating_that_lost_one_rating_still_shows_rated(server: Server) -> None:
    token = _token(server)
    assert rate(server, token, "very_satisfied", step="first").status_code == 303
    # The window's vote arrives later (the gateway was offline) but was given earlier.
    vote = evaluation("ev-1", ticket="A012", occurred_at="2026-12-03T09:40:00+08:00")
    server.ingest([vote])
    by_key = {e["key"]: e for e in evaluations(server)}
    online = by_key["online:2026-12-03:A012"]
    assert online["counted"] is False and "duplicate_ticket" in online["flags"]
    assert online["duplicate_of"] == by_key["ev-1"]["id"]
    page = server.client.get(f"/r/{token}").text
    assert "<h1>已评价</h1>" in page and "非常满意" in page
    assert rate(server, token, "satisfied", step="first").status_code == 409


@pytest.fixture
def shandong(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    policy = tmp_path / "policy.toml"
    policy.write_text("[online]\nlate_rating_working_days = 5\n", encoding="utf-8")
    yield from serve(migrated_url, tmp_path, policy)


def test_a_late_rating_is_stored_late_and_counted(shandong: Server) -> None:
    server = shandong
    day = date(2026, 9, 23)
    set_clock(server, at(day, 16))
    add_ticket(server, "L001", day)
    add_ticket(server, "L002", day)
    on_time, late = link(server, "L001")["token"], link(server, "L002")["token"]
    set_clock(server, at(date(2026, 9, 30), 12))
    assert rate(server, on_time, "satisfied", step="first").status_code == 303
    set_clock(server, at(date(2026, 10, 12), 12))  # after 国庆, within 5 working days
    assert rate(server, late, "satisfied", step="first").status_code == 303
    got = {e["ticket"]: e for e in evaluations(server)}
    assert (got["L001"]["late"], got["L002"]["late"]) == (False, True)
    assert got["L002"]["counted"] is True and got["L002"]["ticket_day"] == "2026-09-23"
    assert got["L002"]["local_day"] == "2026-10-12"
