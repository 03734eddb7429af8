"""Helpers of the online-rating tests: tickets through the ingest route, a fixed clock, links
through the link API, the rating form posted as a browser would."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.server.conftest import Server

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 3)


def at(day: date, hour: int = 15, minute: int = 0) -> datetime:
    """A hall-local time of ``day``, in UTC."""
    return datetime.combine(day, time(hour, minute), TZ).astimezone(UTC)


def set_clock(server: Server, when: datetime) -> None:
    server.client.app.state.online_clock = lambda: when  # type: ignore[attr-defined]


def add_ticket(
    server: Server,
    number: str,
    day: date = DAY,
    window: str = "A03",
    finished: bool = True,
    staff: str = "1001",
    matter: str = "M-100",
) -> None:
    """A ticket of hall H1 as the gateway reports it (POST /api/v1/ingest/tickets)."""
    rec: dict[str, Any] = {
        "key": f"H1:{day.isoformat()}:{number}",
        "hall": "H1",
        "number": number,
        "window": window,
        "staff": staff,
        "matter": matter,
        "issued_at": at(day, 9).isoformat(),
    }
    if finished:
        rec["finished_at"] = at(day, 9, 30).isoformat()
    r = server.client.post(
        "/api/v1/ingest/tickets", json={"gateway": "gw-h1", "records": [rec]}, headers=server.gw
    )
    assert r.status_code == 200 and r.json()["accepted"] + r.json()["updated"] == 1, r.text


def link(server: Server, number: str, day: date | None = None, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"hall": "H1", "ticket": number}
    if day is not None:
        body["ticket_day"] = day.isoformat()
    r = server.client.post("/api/v1/online/links", json=body, headers=kw.get("headers", server.gw))
    assert r.status_code == 200, r.text
    return dict(r.json())


def rate(server: Server, token: str, level: str = "satisfied", **fields: Any) -> httpx.Response:
    """POST the rating form (urlencoded; ``reasons`` a list), redirects not followed."""
    data: dict[str, Any] = {"level": level, **fields}
    return server.client.post(f"/r/{token}", data=data, follow_redirects=False)


def evaluations(server: Server, **params: str) -> list[dict[str, Any]]:
    r = server.client.get(
        "/api/v1/evaluations",
        params={"hall": "H1", "from": "2026-01-01", "to": "2027-12-31", **params},
        headers=server.admin,
    )
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def rejections(server: Server, **params: str) -> dict[str, Any]:
    r = server.client.get("/api/v1/online/rejections", params=params, headers=server.admin)
    assert r.status_code == 200, r.text
    return dict(r.json())
