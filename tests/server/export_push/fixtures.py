"""Ratings to export, a fake provincial platform on a real socket, and targets pointing at it."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.export.outbox import Timing
from server.export.profiles import load_profile
from server.export.push import Pusher, RunReport
from server.export.record import record_id
from server.export.targets import Target
from server.models import Evaluation, ExportOutbox, Hall, Matter
from simulator.province.server import PlatformServer, start_platform
from simulator.province.state import Config

CN = ZoneInfo("Asia/Shanghai")
SINCE = date(2026, 10, 1)
SECRET = "province-test-secret"
SECRET_ENV = "HALLRATE_TEST_PROVINCE_SECRET"
CHANNELS = ("evaluator", "ballot_box", "sms", "phone", "online", "system_default")
LEVELS = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")
# No wait anywhere: a pass checks what the last one left in flight (the fake platform stores
# what it received before any fault).
FAST = Timing(
    retry_base=timedelta(0), retry_cap=timedelta(0), max_attempts=20, visibility_delay=timedelta(0)
)


def seed(session: Session, n: int, hall_code: str = "H1") -> Hall:
    """A hall with its 行政区划 and ``n`` counted ratings on 2026-11-23, each channel and level
    in turn, with a matter and a ticket."""
    hall = Hall(code=hall_code, name="环翠区政务服务中心", division_code="371002")
    matter = session.scalar(select(Matter).where(Matter.code == "M-001"))
    if matter is None:
        matter = Matter(code="M-001", name="营业执照")
        session.add(matter)
    session.add(hall)
    session.flush()
    base = datetime(2026, 11, 23, 9, 0, tzinfo=CN)
    for i in range(n):
        at = base + timedelta(minutes=i)
        session.add(
            Evaluation(
                hall_id=hall.id,
                key=f"EV-A01:1:{i}",
                channel=CHANNELS[i % len(CHANNELS)],
                level=LEVELS[i % len(LEVELS)],
                occurred_at=at,
                local_day=at.date(),
                time_source="device",
                matter_id=matter.id,
                ticket=f"A{i:03d}",
                ticket_day=at.date(),
                attribution="attributed",
                flags="",
                counted=True,
                source="gateway:gw",
            )
        )
    session.flush()
    return hall


@contextmanager
def platform(profile: str, config: Config | None = None) -> Iterator[PlatformServer]:
    server, thread = start_platform(load_profile(profile), SECRET, config or Config())
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def target(server: PlatformServer, profile: str, **kw: Any) -> Target:
    t = Target(
        name=f"t-{profile}",
        profile=load_profile(profile),
        url=server.push_url,
        query_url=server.query_url,
        halls=("H1",),
        secret_env=SECRET_ENV,
        since=SINCE,
        timeout_seconds=2.0,
    )
    return replace(t, **kw)


def pusher(sessions: sessionmaker[Session], timing: Timing = FAST) -> Pusher:
    return Pusher(sessions, CN, timing)


def run_until_settled(p: Pusher, t: Target, passes: int = 40) -> list[RunReport]:
    """Passes until no row is pending or in flight (or ``passes`` are used)."""
    reports = []
    for _ in range(passes):
        reports.append(p.run_once(t))
        with p.sessions() as s:
            busy = s.scalars(
                select(ExportOutbox.id).where(
                    ExportOutbox.target == t.name, ExportOutbox.state.in_(("pending", "sending"))
                )
            ).all()
        if not busy and not reports[-1].requests:
            break
    return reports


def admin(server: PlatformServer, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{server.base_url}/_sim/{path}",
        data=data,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def live_records(server: PlatformServer) -> Counter[str]:
    """record id -> how many live copies the platform holds (the judge: 1 each)."""
    return Counter(r["record_id"] for r in admin(server, "records") if r["live"])


def expected_ids(
    session: Session, hall_code: str = "H1", channels: tuple[str, ...] = CHANNELS
) -> set[str]:
    rows = session.execute(
        select(Evaluation.key)
        .join(Hall, Hall.id == Evaluation.hall_id)
        .where(
            Hall.code == hall_code, Evaluation.counted.is_(True), Evaluation.channel.in_(channels)
        )
    ).all()
    return {record_id(hall_code, k) for (k,) in rows}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
