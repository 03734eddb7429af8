"""The rating page (docs/online-rating.md "The rating page"): the form, a first rating through
the ingest service, 已评价, one 追评, re-sent forms stored once, bad forms 422 and never 500,
everything from outside escaped, small pages. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from server.online.pages import CSS_URL
from tests.server.conftest import Server, evaluation, serve
from tests.server.online_fixtures import DAY, add_ticket, at, evaluations, link, rate, set_clock

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
PAGE_LIMIT = 30_000  # bytes of a page and its stylesheet together


def _token(server: Server, number: str = "A012") -> str:
    set_clock(server, at(DAY, 16))
    add_ticket(server, number)
    return str(link(server, number)["token"])


def test_the_form_then_a_first_rating_then_rated(server: Server) -> None:
    token = _token(server)
    page = server.client.get(f"/r/{token}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert '<meta charset="utf-8">' in html and '<html lang="zh-CN">' in html
    for shown in ("A03", "2026-12-03", "M-100", "A012", "如不满意，请选择原因"):
        assert shown in html
    assert "<script" not in html  # no script at all: works with JavaScript off
    assert html.count('name="level"') == 5 and 'name="step" value="first"' in html
    assert "1001" not in html  # the staff member is not named on the page

    r = rate(server, token, "very_satisfied", step="first", lang="zh")
    assert r.status_code == 303 and r.headers["location"] == f"/r/{token}"
    done = server.client.get(f"/r/{token}").text
    assert "<h1>已评价</h1>" in done and "非常满意" in done and "感谢您的评价" in done
    assert 'name="step" value="followup"' in done  # the 追评 form, policy allowing
    (ev,) = evaluations(server)
    assert ev["key"] == "online:2026-12-03:A012"
    assert (ev["channel"], ev["level"], ev["source"], ev["time_source"]) == (
        "online",
        "very_satisfied",
        "online:page",
        "server",
    )
    assert (ev["window"], ev["staff"], ev["ticket"], ev["counted"]) == ("A03", "1001", "A012", True)
    assert ev["occurred_at"] == "2026-12-03T08:00:00Z"  # the server's clock at the submission


def test_a_resent_form_is_stored_once_and_another_first_rating_is_refused(server: Server) -> None:
    token = _token(server)
    for _ in range(3):  # the network lost the answer; the browser sends again
        assert rate(server, token, "satisfied", step="first").status_code == 303
    r = rate(server, token, "very_dissatisfied", step="first")
    assert r.status_code == 409 and "<h1>已评价</h1>" in r.text
    assert f'href="/r/{token}"' in r.text  # back to the 已评价 page
    (ev,) = evaluations(server)
    assert ev["level"] == "satisfied"


def test_one_followup_then_nothing_more(server: Server) -> None:
    token = _token(server)
    assert rate(server, token, "dissatisfied", step="first").status_code == 303
    set_clock(server, at(DAY + timedelta(days=2), 10))
    assert rate(server, token, "satisfied", step="followup").status_code == 303
    assert rate(server, token, "satisfied", step="followup").status_code == 303  # re-sent
    r = rate(server, token, "very_satisfied", step="followup")
    assert r.status_code == 409
    page = server.client.get(f"/r/{token}").text
    assert "您的追评" in page and "<form" not in page.split("</header>")[1]
    first, followup = sorted(evaluations(server), key=lambda e: e["key"])
    assert first["key"] == "online:2026-12-03:A012" and first["counted"] is True
    assert followup["key"] == "online:2026-12-03:A012:followup"
    assert followup["flags"] == ["followup"] and followup["counted"] is False
    assert followup["level"] == "satisfied"


def test_a_different_form_of_the_same_level_is_a_second_rating_not_a_resend(
    server: Server,
) -> None:
    """Only an identical form (level, reasons, comment) is a re-send; the same level with
    another comment or reasons is a second first rating or 追评: 409, nothing stored."""
    token = _token(server)
    assert rate(server, token, "dissatisfied", step="first", comment="慢").status_code == 303
    r = rate(server, token, "dissatisfied", step="first", comment="太慢了")
    assert r.status_code == 409 and "<h1>已评价</h1>" in r.text
    form = {"step": "followup", "reasons": ["效率低"], "comment": "还是慢"}
    assert rate(server, token, "dissatisfied", **form).status_code == 303
    assert rate(server, token, "dissatisfied", **form).status_code == 303  # re-sent
    assert rate(server, token, "dissatisfied", step="followup", reasons=["其他"]).status_code == 409
    first, followup = sorted(evaluations(server), key=lambda e: e["key"])
    assert first["comment"] == "慢"
    assert (followup["comment"], followup["reasons"]) == ("还是慢", ["效率低"])


def test_no_followup_after_its_days(server: Server) -> None:
    token = _token(server)
    assert rate(server, token, "dissatisfied", step="first").status_code == 303
    set_clock(server, at(DAY + timedelta(days=8), 10))  # followup_days 7 after the first
    page = server.client.get(f"/r/{token}").text
    assert "<h1>已评价</h1>" in page and 'value="followup"' not in page
    assert rate(server, token, "satisfied", step="followup").status_code == 409
    assert len(evaluations(server)) == 1


def test_rated_at_the_window_shows_rated_and_offers_the_followup(server: Server) -> None:
    token = _token(server)
    vote = evaluation("ev-1", ticket="A012", occurred_at="2026-12-03T09:40:00+08:00")
    server.ingest([vote])
    page = server.client.get(f"/r/{token}").text
    assert "<h1>已评价</h1>" in page and "窗口评价器" in page and "满意" in page
    assert rate(server, token, "very_satisfied", step="first").status_code == 409
    assert rate(server, token, "very_satisfied", step="followup").status_code == 303
    keys = sorted(e["key"] for e in evaluations(server))
    assert keys == ["ev-1", "online:2026-12-03:A012:followup"]


def test_english_page(server: Server) -> None:
    token = _token(server)
    page = server.client.get(f"/r/{token}?lang=en").text
    assert '<html lang="en">' in page and "Very satisfied" in page
    assert f'href="/r/{token}?lang=zh"' in page  # the switch back to Chinese
    r = rate(server, token, "satisfied", step="first", lang="en")
    assert r.headers["location"] == f"/r/{token}?lang=en"
    assert "<h1>Rated</h1>" in server.client.get(r.headers["location"]).text


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"", "application/x-www-form-urlencoded"),
        (b"level=", "application/x-www-form-urlencoded"),
        (b"level=great", "application/x-www-form-urlencoded"),
        (b"level=dissatisfied&reasons=%E5%A5%BD", "application/x-www-form-urlencoded"),
        (b"level=satisfied&comment=" + b"x" * 201, "application/x-www-form-urlencoded"),
        (b"level=satisfied&comment=%FF%FE", "application/x-www-form-urlencoded"),
        (b"level=satisfied" + b"&a=1" * 60, "application/x-www-form-urlencoded"),
        (b'{"level": "satisfied"}', "application/json"),
        (b"level=satisfied", "multipart/form-data; boundary=x"),
        (b"level=satisfied", "text/plain"),
    ],
)
def test_bad_forms_are_422_and_store_nothing(server: Server, body: bytes, ctype: str) -> None:
    token = _token(server)
    r = server.client.post(f"/r/{token}", content=body, headers={"content-type": ctype})
    assert r.status_code == 422, r.text
    assert "<h1>提交内容有误</h1>" in r.text
    assert evaluations(server) == []


def test_bad_requests_are_4xx_never_500(server: Server) -> None:
    token = _token(server)
    c = server.client
    for path in (
        "/r/%00",
        "/r/..%2F..",
        f"/r/{token}%00",
        "/r/" + "A" * 2000,
        "/w/H1/%00",
        "/w/%E2%80%AE/A03",
        "/w/" + "H" * 100 + "/A03",
        "/w/H1/A03/qr.bmp",
    ):
        assert 400 <= c.get(path).status_code < 500, path
        r = c.post(path, content=b"level=satisfied&ticket=A012")
        assert 400 <= r.status_code < 500, path
    big = b"level=satisfied&comment=" + b"x" * 20_000
    ctype = {"content-type": "application/x-www-form-urlencoded"}
    assert c.post(f"/r/{token}", content=big, headers=ctype).status_code == 413
    assert evaluations(server) == []


def test_reasons_with_a_good_level_are_ignored_not_refused(server: Server) -> None:
    token = _token(server)
    r = rate(server, token, "satisfied", step="first", reasons=["态度不好"])
    assert r.status_code == 303
    assert len(evaluations(server)) == 1


def test_everything_from_outside_is_escaped(server: Server) -> None:
    c = server.client
    halls = c.get("/api/v1/halls", headers=server.admin).json()
    hall_id = next(h["id"] for h in halls if h["code"] == "H1")
    assert c.patch(f"/api/v1/halls/{hall_id}", json={"name": HOSTILE}, headers=server.admin)
    windows = c.get("/api/v1/windows", headers=server.admin).json()
    a03 = next(w["id"] for w in windows if w["code"] == "A03")
    assert c.patch(f"/api/v1/windows/{a03}", json={"name": HOSTILE}, headers=server.admin)
    token = _token(server)
    for path in (f"/r/{token}", "/w/H1/A03", f"/r/{token}?lang=en"):
        html = c.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    assert rate(server, token, "satisfied", step="first", comment=HOSTILE).status_code == 303
    html = c.get(f"/r/{token}").text
    assert "<script>alert" not in html and "<img src=x" not in html


def test_pages_are_small_with_their_stylesheet(server: Server) -> None:
    token = _token(server)
    css = server.client.get(CSS_URL)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    sizes = {"form": len(server.client.get(f"/r/{token}").content)}
    sizes["window"] = len(server.client.get("/w/H1/A03").content)
    sizes["refusal"] = len(server.client.get("/r/nonsense").content)
    rate(server, token, "dissatisfied", step="first", comment="慢" * 200)
    sizes["rated"] = len(server.client.get(f"/r/{token}").content)
    for kind, size in sizes.items():
        assert size + len(css.content) < PAGE_LIMIT, (kind, size)


@pytest.fixture
def no_followups(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    policy = tmp_path / "policy.toml"
    policy.write_text("[online]\nfollowup_days = 0\ncomment_max_chars = 0\n", encoding="utf-8")
    yield from serve(migrated_url, tmp_path, policy)


def test_policy_without_followups_or_comments(no_followups: Server) -> None:
    token = _token(no_followups)
    page = no_followups.client.get(f"/r/{token}").text
    assert "<textarea" not in page
    assert rate(no_followups, token, "satisfied", step="first", comment="hi").status_code == 303
    done = no_followups.client.get(f"/r/{token}").text
    assert "<h1>已评价</h1>" in done and 'value="followup"' not in done
    assert rate(no_followups, token, "very_satisfied", step="followup").status_code == 409
    assert rate(no_followups, token, "very_satisfied").status_code == 409
    assert len(evaluations(no_followups)) == 1
