"""Abuse resistance (docs/online-rating.md "Abuse resistance"): attempts per address and per
ticket in a rolling hour, every refusal logged with a keyed hash of the address and counted in
/metrics, and GET /api/v1/online/rejections with its filters and roles. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

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


def _limited(url: str, tmp_path: Path, per_address: int, per_ticket: int) -> Iterator[Server]:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "[online]\n"
        f"attempts_per_address_per_hour = {per_address}\n"
        f"attempts_per_ticket_per_hour = {per_ticket}\n",
        encoding="utf-8",
    )
    yield from serve(url, tmp_path, policy)


@pytest.fixture
def per_address(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from _limited(migrated_url, tmp_path, 3, 100)


@pytest.fixture
def per_ticket(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from _limited(migrated_url, tmp_path, 100, 2)


def test_attempts_per_address_per_rolling_hour(per_address: Server) -> None:
    server = per_address
    set_clock(server, at(DAY, 10))
    for n in ("A001", "A002", "A003", "A004"):
        add_ticket(server, n)
    tokens = [link(server, n)["token"] for n in ("A001", "A002", "A003", "A004")]
    assert rate(server, tokens[0], step="first").status_code == 303
    assert rate(server, "forged.AAAAAAAAAAAAAAAAAAAAAA", step="first").status_code == 400
    assert server.client.post("/w/H1/A03", data={"ticket": "A002"}).status_code == 200
    r = rate(server, tokens[3], step="first")  # the fourth attempt within the hour
    assert r.status_code == 429 and r.headers["retry-after"] == "3600"
    assert "<h1>操作过于频繁</h1>" in r.text
    set_clock(server, at(DAY, 10, 59))
    assert rate(server, tokens[3], step="first").status_code == 429
    set_clock(
        server,
        at(
            DAY,
            11,
            0,
        ),
    )  # the first attempt left the window
    assert rate(server, tokens[3], step="first").status_code == 303
    assert sorted(e["ticket"] for e in evaluations(server)) == ["A001", "A004"]
    assert rejections(server)["counts"]["rate_limited"] == 2


def test_attempts_per_ticket_per_rolling_hour(per_ticket: Server) -> None:
    server = per_ticket
    set_clock(server, at(DAY, 10))
    add_ticket(server, "A001")
    add_ticket(server, "A002")
    token = link(server, "A001")["token"]
    assert rate(server, token, "great", step="first").status_code == 422
    assert rate(server, token, "worse", step="first").status_code == 422
    assert rate(server, token, "satisfied", step="first").status_code == 429
    assert rate(server, link(server, "A002")["token"], step="first").status_code == 303
    set_clock(server, at(DAY, 11, 1))
    assert rate(server, token, "satisfied", step="first").status_code == 303
    limited = rejections(server, reason="rate_limited")["items"]
    assert [(i["ticket"], i["detail"]) for i in limited] == [
        ("A001", "attempts per ticket per hour")
    ]


def test_rejections_listing_filters_roles_and_metrics(server: Server) -> None:
    c = server.client
    set_clock(server, at(DAY, 10))
    add_ticket(server, "A012")
    token = link(server, "A012")["token"]
    assert rate(server, token, step="first").status_code == 303
    assert rate(server, token, "very_dissatisfied", step="first").status_code == 409
    set_clock(server, at(DAY + timedelta(days=1), 10))
    assert c.get("/r/garbage").status_code == 400
    assert c.post("/w/H1/A04", data={"ticket": "A012"}).status_code == 403

    everything = rejections(server)
    assert [i["reason"] for i in everything["items"]] == [
        "already_rated",
        "malformed",
        "wrong_window",
    ]
    assert everything["counts"]["already_rated"] == 1 and everything["next_cursor"] is None
    item = everything["items"][0]
    assert (item["hall"], item["ticket"], item["ticket_day"], item["path"]) == (
        "H1",
        "A012",
        "2026-12-03",
        "link",
    )
    assert item["at"] == "2026-12-03T02:00:00Z"
    hashes = {i["address_hash"] for i in everything["items"]}
    assert len(hashes) == 1 and len(next(iter(hashes))) == 64  # one client, never "testclient"
    assert "testclient" not in str(everything)
    assert everything["items"][2]["path"] == "window"
    # Filters: hall, reason, days (HALLRATE_TZ, inclusive).
    h1 = rejections(server, hall="H1")
    assert [i["reason"] for i in h1["items"]] == [
        "already_rated",
        "wrong_window",
    ]  # garbage: no hall
    assert rejections(server, reason="malformed")["counts"]["malformed"] == 1
    day2 = rejections(server, **{"from": "2026-12-04", "to": "2026-12-04"})
    assert [i["reason"] for i in day2["items"]] == ["malformed", "wrong_window"]
    assert day2["counts"]["already_rated"] == 0
    page = rejections(server, limit="2")
    assert len(page["items"]) == 2 and page["next_cursor"] is not None
    rest = rejections(server, limit="2", cursor=page["next_cursor"])
    assert [i["reason"] for i in rest["items"]] == ["wrong_window"] and rest["next_cursor"] is None
    for bad in ({"reason": "nope"}, {"limit": "0"}, {"cursor": "x"}, {"from": "1999-12-31"}):
        r = c.get("/api/v1/online/rejections", params=bad, headers=server.admin)
        assert r.status_code in (400, 422), bad
    assert (
        c.get("/api/v1/online/rejections", params={"hall": "H9"}, headers=server.admin).status_code
        == 404
    )
    # Roles: no token 401, a gateway key 401, a viewer 403, another hall's admin 403.
    assert c.get("/api/v1/online/rejections").status_code == 401
    assert c.get("/api/v1/online/rejections", headers=server.gw).status_code == 401
    hall2 = c.post(
        "/api/v1/halls", json={"code": "H2", "name": "二号"}, headers=server.admin
    ).json()
    for user, role in (("v1", "viewer"), ("h2", "hall_admin")):
        r = c.post(
            "/api/v1/users",
            json={
                "username": user,
                "password": f"{user}-password-123",
                "role": role,
                "hall_id": hall2["id"],
            },
            headers=server.admin,
        )
        assert r.status_code == 201, r.text
    viewer = server.login("v1", "v1-password-123")
    assert c.get("/api/v1/online/rejections", headers=viewer).status_code == 403
    h2 = server.login("h2", "h2-password-123")
    assert c.get("/api/v1/online/rejections", params={"hall": "H1"}, headers=h2).status_code == 403
    own = c.get("/api/v1/online/rejections", headers=h2).json()
    assert own["items"] == [] and sum(own["counts"].values()) == 0
    # /metrics counts every refusal by reason.
    server.settings.metrics_token = SecretStr("metrics-token-0123456789")
    text = c.get("/metrics", headers={"Authorization": "Bearer metrics-token-0123456789"}).text
    assert 'hallrate_online_rejections_total{reason="already_rated"} 1' in text
    assert 'hallrate_online_rejections_total{reason="wrong_window"} 1' in text
    assert 'hallrate_online_rejections_total{reason="rate_limited"} 0' in text
