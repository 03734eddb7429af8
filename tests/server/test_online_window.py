"""Per-window QR codes (docs/online-rating.md "Per-window QR codes", "Late ratings"): the
window's page asks for the ticket number and checks it was finished at that window within the
rating period; 山东-style late ratings across the 国庆 holiday. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.rating_token import peek
from tests.server.conftest import Server, serve
from tests.server.online_fixtures import (
    DAY,
    add_ticket,
    at,
    evaluations,
    link,
    rate,
    rejections,
    set_clock,
)


def _ask(server: Server, window: str, typed: str, lang: str = "zh") -> httpx.Response:
    return server.client.post(
        f"/w/H1/{window}", data={"ticket": typed, "lang": lang}, follow_redirects=False
    )


def test_window_page_leads_to_the_tickets_link(server: Server) -> None:
    set_clock(server, at(DAY, 16))
    add_ticket(server, "A012", window="A03")
    page = server.client.get("/w/H1/A03")
    assert page.status_code == 200
    assert "请输入取号单上的号码" in page.text and 'name="ticket"' in page.text
    r = _ask(server, "A03", " a012 ")  # typed in lower case, with spaces
    assert r.status_code == 303
    token = r.headers["location"].removeprefix("/r/")
    assert token == link(server, "A012")["token"]  # the ticket's one link
    r = _ask(server, "A03", "A012", lang="en")
    assert r.headers["location"].endswith("?lang=en")
    assert rate(server, token, "satisfied", step="first").status_code == 303
    assert [e["key"] for e in evaluations(server)] == ["online:2026-12-03:A012"]


def test_window_page_refusals(server: Server) -> None:
    set_clock(server, at(DAY, 16))
    add_ticket(server, "A012", window="A03")
    add_ticket(server, "A013", window="A03", finished=False)
    add_ticket(server, "B001", DAY - timedelta(days=10), window="A03")

    def refused(window: str, typed: str, status: int, title: str) -> None:
        r = _ask(server, window, typed)
        assert r.status_code == status, (typed, r.text)
        assert f"<h1>{title}</h1>" in r.text

    refused("A04", "A012", 403, "窗口不符")
    refused("A03", "A013", 404, "未找到办结的取号单")
    refused("A03", "Z999", 404, "未找到办结的取号单")
    refused("A03", "B001", 410, "评价已过期")
    refused("A03", "A0 12", 422, "提交内容有误")
    refused("A03", "", 422, "提交内容有误")
    refused("Z99", "A012", 400, "链接无效")  # no such window
    assert server.client.get("/w/H1/Z99").status_code == 400
    assert server.client.get("/w/H9/A03").status_code == 400
    counts = rejections(server, hall="H1", reason="wrong_window")["counts"]
    assert counts["wrong_window"] == 1
    got = rejections(server)["counts"]
    assert (got["not_finished"], got["expired"], got["invalid_form"]) == (2, 1, 2)
    assert got["malformed"] == 3
    assert evaluations(server) == []


def test_window_qr_codes(server: Server) -> None:
    svg = server.client.get("/w/H1/A03/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    png = server.client.get("/w/H1/A03/qr.png")
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert server.client.get("/w/H1/Z99/qr.svg").status_code == 400


# 山东: 5 working days after the 7-day period. A ticket of Wed 2026-09-23: the period ends
# 2026-09-30; 国庆 2026 (1-7 Oct off, Sat 10 Oct worked) puts the late limit at 2026-10-13,
# where five weekdays alone would end it on 2026-10-07.
SEP23 = date(2026, 9, 23)


@pytest.fixture
def shandong(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    policy = tmp_path / "policy.toml"
    policy.write_text("[online]\nlate_rating_working_days = 5\n", encoding="utf-8")
    yield from serve(migrated_url, tmp_path, policy)


def test_late_ratings_within_five_working_days_across_the_national_day(shandong: Server) -> None:
    server = shandong
    set_clock(server, at(SEP23, 16))
    for number in ("L001", "L002", "L003", "L004"):
        add_ticket(server, number, SEP23)
    tokens = {n: link(server, n)["token"] for n in ("L001", "L002", "L003", "L004")}
    # The link lives to the late limit's day plus the 追评 days: 2026-10-20, end of day.
    assert peek(tokens["L001"]).expires == int(at(date(2026, 10, 21), 0).timestamp())

    set_clock(server, at(date(2026, 9, 30), 20))  # the period's last day: on time
    page = server.client.get(f"/r/{tokens['L001']}").text
    assert "补评期" not in page
    assert rate(server, tokens["L001"], "satisfied", step="first").status_code == 303

    set_clock(server, at(date(2026, 10, 8), 10))  # in the holiday: late
    page = server.client.get(f"/r/{tokens['L002']}").text
    assert "补评期（至2026-10-13）" in page
    assert rate(server, tokens["L002"], "satisfied", step="first").status_code == 303

    set_clock(server, at(date(2026, 10, 13), 23, 59))  # the fifth working day: late
    assert _ask(server, "A03", "L003").status_code == 303
    assert rate(server, tokens["L003"], "satisfied", step="first").status_code == 303

    set_clock(server, at(date(2026, 10, 14), 0, 1))  # after it: closed
    r = server.client.get(f"/r/{tokens['L004']}")
    assert r.status_code == 410 and "<h1>评价已过期</h1>" in r.text
    assert rate(server, tokens["L004"], "satisfied", step="first").status_code == 410
    assert _ask(server, "A03", "L004").status_code == 410
    r = server.client.post(
        "/api/v1/online/links", json={"hall": "H1", "ticket": "L004"}, headers=server.gw
    )
    assert r.status_code == 410
    # A ticket already rated still shows 已评价 after its period.
    assert "<h1>已评价</h1>" in server.client.get(f"/r/{tokens['L001']}").text
    assert sorted(e["ticket"] for e in evaluations(server)) == ["L001", "L002", "L003"]
