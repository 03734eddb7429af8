"""Seed a migrated database for the call-back tests: a hall, finished tickets with phones,
evaluations, agents, and earlier worklists to exclude against."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from server.callbacks.policy import CallbackPolicy
from server.models import Evaluation, Hall, Staff, Ticket, User, Window
from server.models.callbacks import CallbackWorklist
from server.personal import PhoneCipher
from server.policy import Policy

TZ = ZoneInfo("Asia/Shanghai")
CIPHER = PhoneCipher(b"callback-test-phone-key-0123456789")
_numbers = itertools.count(1)


def policy(**callbacks: object) -> Policy:
    return Policy(callbacks=CallbackPolicy(**callbacks))  # type: ignore[arg-type]


def local(day: date, hh: int = 10, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), TZ).astimezone(UTC)


def phone(i: int) -> str:
    return f"1390000{i:04d}"


def add_hall(session: Session, code: str = "H1") -> Hall:
    hall = Hall(code=code, name=f"{code} 政务服务中心")
    session.add(hall)
    session.flush()
    return hall


def add_window(session: Session, hall: Hall, code: str) -> Window:
    w = Window(hall_id=hall.id, code=code)
    session.add(w)
    session.flush()
    return w


def add_staff(session: Session, hall: Hall, number: str) -> Staff:
    s = Staff(hall_id=hall.id, number=number, name=f"staff {number}")
    session.add(s)
    session.flush()
    return s


def add_ticket(
    session: Session,
    hall: Hall,
    day: date,
    ph: str | None,
    *,
    window: Window | None = None,
    staff: Staff | None = None,
    finished: bool = True,
    number: str | None = None,
) -> Ticket:
    number = number or f"A{next(_numbers):03d}"
    enc, digest = CIPHER.seal(ph) if ph else (None, None)
    at = local(day)
    t = Ticket(
        hall_id=hall.id,
        key=f"{hall.code}:{day}:{number}",
        number=number,
        window_id=window.id if window else None,
        staff_id=staff.id if staff else None,
        finished_at=at if finished else None,
        called_at=at - timedelta(minutes=5),
        phone_enc=enc,
        phone_hash=digest,
        local_day=day,
    )
    session.add(t)
    session.flush()
    return t


def add_evaluation(
    session: Session,
    t: Ticket,
    level: str,
    *,
    channel: str = "evaluator",
    counted: bool = True,
    day: date | None = None,
) -> Evaluation:
    day = day or t.local_day
    e = Evaluation(
        hall_id=t.hall_id,
        key=f"{channel}:{t.id}:{level}:{day}",
        channel=channel,
        level=level,
        occurred_at=local(day, 11),
        local_day=day,
        time_source="device" if channel == "evaluator" else "import",
        ticket=t.number,
        ticket_day=t.local_day,  # as ingest stores a rating of a known ticket
        attribution="attributed",
        flags="" if counted else "misuse",
        counted=counted,
        source="test",
    )
    session.add(e)
    session.flush()
    return e


def add_agent(session: Session, hall: Hall | None, username: str, active: bool = True) -> User:
    u = User(
        username=username,
        password_hash="x",
        role="agent",
        hall_id=hall.id if hall else None,
        active=active,
    )
    session.add(u)
    session.flush()
    return u


def old_worklist(
    session: Session, hall: Hall, key: str = "H1:daily:2026-10-01"
) -> CallbackWorklist:
    wl = CallbackWorklist(
        hall_id=hall.id,
        key=key,
        kind="daily",
        label="2026-10-01",
        served_from=date(2026, 9, 30),
        served_to=date(2026, 9, 30),
        work_day=date(2026, 10, 1),
        due_at=local(date(2026, 10, 1), 17),
        seed="0" * 32,
        frame="{}",
        frame_sha256="",
        policy="{}",
        planned=0,
        reserves=0,
        created_by="test",
    )
    session.add(wl)
    session.flush()
    return wl
