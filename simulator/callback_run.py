"""After the simulated day: the daily call-back worklist for the next working day, worked by
scripted agents (docs/simulator.md, "The phone call-back channel")."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from simulator.callback_citizens import CallCitizen
from simulator.phone_agent import work_queue


def next_working_day(day: date, policy_file: str) -> date:
    """The work day whose daily list covers ``day``: the next working day after it."""
    from server.calendar import WorkingDays
    from server.policy import load_policy

    return WorkingDays.from_policy(load_policy(policy_file)).add(day, 1)


def _admin_client(base_url: str, admin: tuple[str, str]) -> httpx.Client:
    client = httpx.Client(base_url=base_url.rstrip("/") + "/api/v1", timeout=60.0)
    r = client.post("/auth/token", json={"username": admin[0], "password": admin[1]})
    r.raise_for_status()
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


def _check(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}")
    return r.json()


def make_agents(client: httpx.Client, hall: str, n: int) -> list[tuple[str, str]]:
    """``n`` agent accounts of the hall (created before the draw, which assigns entries)."""
    halls = _check(client.get("/halls", params={"limit": 1000}))
    items = halls["items"] if isinstance(halls, dict) else halls
    hall_id = next(h["id"] for h in items if h["code"] == hall)
    agents = []
    for i in range(1, n + 1):
        username, password = f"sim-agent-{i}", secrets.token_urlsafe(12)
        _check(
            client.post(
                "/users",
                json={
                    "username": username,
                    "password": password,
                    "role": "agent",
                    "hall_id": hall_id,
                },
            )
        )
        agents.append((username, password))
    return agents


def run(
    base_url: str,
    hall: str,
    served_day: date,
    policy_file: str,
    citizens: list[CallCitizen],
    admin: tuple[str, str],
    *,
    mode: str = "browser",
    agents: int = 2,
    tz: str = "Asia/Shanghai",
    retries: bool = True,
) -> dict[str, Any]:
    """Draw the list, let the agents work it (in parallel), and return the figures."""
    work_day = next_working_day(served_day, policy_file)
    by_phone = {c.phone: c for c in citizens}
    client = _admin_client(base_url, admin)
    try:
        accounts = make_agents(client, hall, agents)
        worklist = _check(
            client.post(
                "/callbacks/worklists",
                json={"hall": hall, "kind": "daily", "day": work_day.isoformat()},
            )
        )
        with ThreadPoolExecutor(max_workers=len(accounts)) as pool:
            futures = [
                pool.submit(work_queue, mode, base_url, u, p, by_phone.get, retries)
                for u, p in accounts
            ]
            reports = [f.result() for f in futures]
        last = max(work_day, datetime.now(ZoneInfo(tz)).date())
        stats = _check(
            client.get(
                "/callbacks/stats",
                params={"hall": hall, "from": served_day.isoformat(), "to": last.isoformat()},
            )
        )
    finally:
        client.close()
    return {
        "mode": mode,
        "work_day": work_day.isoformat(),
        "worklist": worklist["id"],
        "entries": worklist["planned"],
        "citizens": len(citizens),
        "agents": [r.to_dict() for r in reports],
        "stats": stats,
    }
