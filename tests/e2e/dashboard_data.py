"""Evaluations for the dashboard view tests: a fourth quarter of 2026 in hall H1 with three
windows, three staff members, every channel, many days and hours, and a few votes just now."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.e2e.conftest import GATEWAY_ID, GATEWAY_KEY, HALL, ServerProc

TZ = ZoneInfo("Asia/Shanghai")
# window -> (staff numbers, votes, share of satisfied levels)
WINDOWS = {
    "A01": (["1001", "1002"], 150, 0.9),
    "A02": (["1002"], 80, 0.75),
    "A03": (["1003"], 12, 0.6),
}
SATISFIED = ["very_satisfied", "satisfied"]
OTHER = ["basically_satisfied", "dissatisfied", "very_dissatisfied"]


def _record(key: str, channel: str, level: str, at: datetime, **fields: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "key": key,
        "rev": 0,
        "channel": channel,
        "level": level,
        "occurred_at": at.isoformat(),
        "time_source": "device",
        "hall": HALL,
        "window": None,
        "ticket": None,
        "staff": None,
        "device": None,
        "matter": None,
        "attribution": "attributed",
        "flags": [],
        "source": GATEWAY_ID,
    }
    rec.update(fields)
    return rec


def on_site(rng: random.Random) -> list[dict[str, Any]]:
    """Evaluator and ballot-box votes over November 2026, 8:00..18:00 on every weekday."""
    out = []
    for window, (staff, n, share) in WINDOWS.items():
        for i in range(n):
            day = date(2026, 11, 2) + timedelta(days=rng.randrange(29))
            at = datetime(
                day.year, day.month, day.day, rng.choice(range(8, 18)), rng.randrange(60), tzinfo=TZ
            )
            level = rng.choice(SATISFIED) if rng.random() < share else rng.choice(OTHER)
            channel = "ballot_box" if i % 7 == 0 else "evaluator"
            out.append(
                _record(f"{window}-{i}", channel, level, at, window=window, staff=rng.choice(staff))
            )
    return out


def imported(rng: random.Random) -> list[dict[str, Any]]:
    """SMS (90) and phone call-back (20: below the minimum sample of 30) results."""
    out = []
    for channel, n, share in (("sms", 90, 0.85), ("phone", 20, 0.8)):
        for i in range(n):
            day = date(2026, 11, 3) + timedelta(days=rng.randrange(27))
            at = datetime(day.year, day.month, day.day, rng.choice(range(9, 20)), 0, tzinfo=TZ)
            level = rng.choice(SATISFIED) if rng.random() < share else rng.choice(OTHER)
            window = rng.choice(["A01", "A01", "A02"])
            out.append(
                _record(f"{channel}-{i}", channel, level, at, window=window, time_source="import")
            )
    return out


def seed(server: ServerProc) -> None:
    """All of it, the on-site votes through the gateway route, SMS and phone as the importer
    writes them; plus three votes at A01 a few minutes ago (today's, this month's cards)."""
    from server.db import make_engine, make_sessionmaker
    from server.ingest import ingest_evaluations

    rng = random.Random(19)
    now = datetime.now(TZ).replace(microsecond=0) - timedelta(minutes=5)
    recent = [
        _record(f"now-{i}", "evaluator", "satisfied", now, window="A01", staff="1001")
        for i in range(3)
    ]
    records = on_site(rng) + recent
    for start in range(0, len(records), 200):
        r = httpx.post(
            f"{server.url}/api/v1/ingest/evaluations",
            json={"gateway": GATEWAY_ID, "records": records[start : start + 200]},
            headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
        )
        r.raise_for_status()
        assert not r.json()["rejected"], r.json()
    engine = make_engine(server.database_url)
    try:
        with make_sessionmaker(engine)() as s:
            rows = [{k: v for k, v in rec.items() if k != "source"} for rec in imported(rng)]
            result = ingest_evaluations(s, rows, "import:dashboard.xlsx")
            s.commit()
            assert result.rejected == [], result.rejected
    finally:
        engine.dispose()
