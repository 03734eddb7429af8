"""Rating links (docs/online-rating.md "The link", "The token"): POST /api/v1/online/links and
the checks every link passes on /r/{token}: forged, tampered, expired, unknown or inactive
gateway, another hall's gateway. SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from gateway.rating_token import LinkClaims, api_key_hash, gateway_link_key, peek, sign
from server.models import Gateway
from tests.server.conftest import GATEWAY_KEY, Server
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

GW_KEY = gateway_link_key(api_key_hash(GATEWAY_KEY))


def _gateway_token(server: Server, **changes: Any) -> str:
    claims = LinkClaims(
        "g:gw-h1", "H1", DAY, "G001", "A05", "2002", "M-200",
        int(at(DAY, 9).timestamp()), int(at(DAY + timedelta(days=30), 0).timestamp()), "n1",
    )  # fmt: skip
    return sign(replace(claims, **changes), GW_KEY)


def test_link_of_a_finished_ticket_is_idempotent_and_bound_to_it(server: Server) -> None:
    set_clock(server, at(DAY, 16))
    add_ticket(server, "A012")
    first = link(server, "A012")
    again = link(server, "A012", DAY)
    assert first == again  # the same ticket always gets the same link
    token = first["token"]
    assert first["url"] == f"http://127.0.0.1:8470/r/{token}"
    assert first["qr_svg_url"] == first["url"] + "/qr.svg"
    assert first["qr_png_url"] == first["url"] + "/qr.png"
    assert (first["hall"], first["ticket"], first["ticket_day"]) == ("H1", "A012", "2026-12-03")
    # 7 rating days + 7 追评 days after the ticket's day: the end of 2026-12-17 in +08:00.
    assert first["expires_at"] == "2026-12-17T16:00:00Z"
    claims = peek(token)
    assert (claims.kid, claims.hall, claims.ticket_day, claims.ticket) == ("s", "H1", DAY, "A012")
    assert (claims.window, claims.staff, claims.matter) == ("A03", "1001", "M-100")
    # An admin issues the same link.
    assert link(server, "A012", headers=server.admin) == first


def test_link_api_refusals(server: Server) -> None:
    set_clock(server, at(DAY, 16))
    add_ticket(server, "A013", finished=False)
    add_ticket(server, "A.1")  # a ticket code a link cannot carry
    c = server.client

    def post(body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return c.post("/api/v1/online/links", json=body, headers=headers or server.gw)

    assert post({"hall": "H1", "ticket": "Z999"}).status_code == 404
    assert post({"hall": "H9", "ticket": "A013"}).status_code == 404
    r = post({"hall": "H1", "ticket": "A013"})
    assert r.status_code == 409 and r.json()["detail"] == "ticket 'A013' is not finished"
    assert post({"hall": "H1", "ticket": "A.1"}).status_code == 422
    assert post({"hall": "H1", "ticket": "A013", "extra": 1}).status_code == 422
    assert post({"hall": "H1", "ticket": "<b>"}).status_code == 422
    assert post({"hall": "H1"}).status_code == 422
    assert post({"hall": "H1", "ticket": "A013", "ticket_day": "2026-13-01"}).status_code == 422
    assert c.post("/api/v1/online/links", json={"hall": "H1", "ticket": "A013"}).status_code == 401
    bad = {"Authorization": "Bearer not-a-key"}
    assert post({"hall": "H1", "ticket": "A013"}, bad).status_code == 401
    # A gateway key issues links for its own hall only.
    r = c.post("/api/v1/halls", json={"code": "H2", "name": "二号大厅"}, headers=server.admin)
    assert r.status_code == 201, r.text
    assert post({"hall": "H2", "ticket": "A013"}).status_code == 403
    # A viewer may not issue links.
    r = c.post(
        "/api/v1/users",
        json={"username": "v1", "password": "viewer-password-1", "role": "viewer"},
        headers=server.admin,
    )
    assert r.status_code == 201, r.text
    viewer = server.login("v1", "viewer-password-1")
    assert post({"hall": "H1", "ticket": "A013"}, viewer).status_code == 403
    # The rating period (7 days, no late days by default) is over: 410.
    add_ticket(server, "A014")
    set_clock(server, at(DAY + timedelta(days=8), 0, 30))
    r = post({"hall": "H1", "ticket": "A014"})
    assert r.status_code == 410
    assert r.json()["detail"] == "the rating period of ticket 'A014' is over"


def _refused(server: Server, token: str, status: int, title: str) -> None:
    r = server.client.get(f"/r/{token}")
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert f"<h1>{title}</h1>" in r.text
    assert "<form" not in r.text


def _tamper(token: str, **changes: Any) -> str:
    payload, mac = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for index, value in changes.items():
        body[int(index[1:])] = value
    text = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode() + "." + mac


def test_forged_tampered_expired_and_malformed_links_are_refused(server: Server) -> None:
    set_clock(server, at(DAY, 16))
    add_ticket(server, "A012")
    token = link(server, "A012")["token"]
    mac = token.split(".")[1]
    forged = token.split(".")[0] + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    _refused(server, forged, 403, "链接无效")
    _refused(server, _tamper(token, i4="A013"), 403, "链接无效")  # another ticket, same MAC
    _refused(server, "not-a-token", 400, "链接无效")
    _refused(server, "x" * 500, 400, "链接无效")
    assert rate(server, forged).status_code == 403
    set_clock(server, at(DAY + timedelta(days=14), 16, 0))  # past 2026-12-17T16:00Z
    _refused(server, token, 410, "评价已过期")
    got = rejections(server)
    assert got["counts"]["bad_signature"] == 3
    assert got["counts"]["malformed"] == 2
    assert got["counts"]["expired"] == 1
    tampered = [i for i in got["items"] if i["reason"] == "bad_signature"][1]
    assert (tampered["hall"], tampered["ticket"], tampered["path"]) == ("H1", "A013", "link")
    assert evaluations(server) == []


def test_gateway_links_unknown_inactive_and_other_halls(server: Server) -> None:
    set_clock(server, at(DAY, 16))
    # A link the gateway signed offline, before the server has the ticket: it rates.
    token = _gateway_token(server)
    page = server.client.get(f"/r/{token}")
    assert page.status_code == 200 and "A05" in page.text
    assert rate(server, token, "very_satisfied", step="first").status_code == 303
    (ev,) = evaluations(server)
    assert (ev["key"], ev["window"], ev["staff"], ev["ticket"]) == (
        "online:2026-12-03:G001",
        "A05",
        "2002",
        "G001",
    )
    assert ev["channel"] == "online" and ev["counted"] is True
    # A gateway nobody knows.
    unknown = sign(replace(peek(token), kid="g:gw-zz", ticket="G002"), GW_KEY)
    _refused(server, unknown, 403, "链接无效")
    # H1's gateway signing a ticket of hall H2.
    other = sign(replace(peek(token), hall="H2", ticket="G003"), GW_KEY)
    server.client.post("/api/v1/halls", json={"code": "H2", "name": "二号"}, headers=server.admin)
    _refused(server, other, 403, "链接与大厅不符")
    # The gateway is deactivated: its links stop working.
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        gw = s.query(Gateway).filter_by(code="gw-h1").one()
        gw.active = False
        s.commit()
    _refused(server, sign(replace(peek(token), ticket="G004"), GW_KEY), 403, "链接无效")
    counts = rejections(server)["counts"]
    assert (counts["unknown_key"], counts["wrong_hall"]) == (2, 1)
    assert len(evaluations(server)) == 1


def test_qr_codes_of_a_link(server: Server) -> None:
    set_clock(server, at(DAY, 16))
    add_ticket(server, "A012")
    token = link(server, "A012")["token"]
    svg = server.client.get(f"/r/{token}/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in svg.content
    png = server.client.get(f"/r/{token}/qr.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert server.client.get(f"/r/{token}/qr.gif").status_code == 400
    # An altered signature (never the token itself: its own last characters may be "AA").
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert server.client.get(f"/r/{forged}/qr.svg").status_code == 403


def test_link_day_defaults_to_the_latest_ticket_of_that_number(server: Server) -> None:
    set_clock(server, at(DAY, 16))
    add_ticket(server, "A012", DAY - timedelta(days=1), window="A01")
    add_ticket(server, "A012", DAY, window="A02")
    assert link(server, "A012")["ticket_day"] == "2026-12-03"
    older = link(server, "A012", date(2026, 12, 2))
    assert older["ticket_day"] == "2026-12-02" and peek(older["token"]).window == "A01"
