"""Worklists, entries and attempts written straight to the tables (as the draw and
record_attempt leave them), for the figures, export and import tests."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.ingest import ingest_evaluations
from server.models import (
    CallbackAttempt,
    CallbackEntry,
    CallbackWorklist,
    Hall,
    Matter,
    Staff,
    Ticket,
    User,
    Window,
)
from server.personal import PhoneCipher
from server.security import hash_password

CN = ZoneInfo("Asia/Shanghai")


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), CN)


def hall(session: Session, code: str) -> Hall:
    row = session.scalars(select(Hall).where(Hall.code == code)).first()
    if row is None:
        row = Hall(code=code, name=f"{code} 政务服务中心", division_code="")
        session.add(row)
        session.flush()
    return row


def user(session: Session, username: str, role: str, hall_id: int | None, password: str) -> None:
    session.add(
        User(
            username=username,
            password_hash=hash_password(password),
            role=role,
            hall_id=hall_id,
            active=True,
        )
    )
    session.flush()


def worklist(session: Session, h: Hall, work_day: date, kind: str = "daily") -> CallbackWorklist:
    wl = CallbackWorklist(
        hall_id=h.id,
        key=f"{h.code}:{kind}:{work_day}",
        kind=kind,
        label=work_day.isoformat(),
        served_from=work_day - timedelta(days=1),
        served_to=work_day - timedelta(days=1),
        work_day=work_day,
        due_at=at(work_day, 17, 30),
        seed="0" * 32,
        frame="{}",
        frame_sha256="0" * 64,
        policy=json.dumps({}),
        planned=0,
        reserves=0,
        created_by="test",
    )
    session.add(wl)
    session.flush()
    return wl


def _window(session: Session, hall_id: int, code: str) -> Window:
    row = session.scalars(
        select(Window).where(Window.hall_id == hall_id, Window.code == code)
    ).first()
    if row is None:
        row = Window(hall_id=hall_id, code=code, name=code, active=True)
        session.add(row)
        session.flush()
    return row


def _staff(session: Session, hall_id: int, number: str) -> Staff:
    row = session.scalars(
        select(Staff).where(Staff.hall_id == hall_id, Staff.number == number)
    ).first()
    if row is None:
        row = Staff(hall_id=hall_id, number=number, name=f"办事员{number}", active=True)
        session.add(row)
        session.flush()
    return row


def _matter(session: Session, code: str) -> Matter:
    row = session.scalars(select(Matter).where(Matter.code == code)).first()
    if row is None:
        row = Matter(code=code, name="居住证办理")
        session.add(row)
        session.flush()
    return row


def phone(n: int) -> str:
    return f"1391234{n:04d}"


def entry(
    session: Session,
    wl: CallbackWorklist,
    n: int,
    cipher: PhoneCipher,
    *,
    state: str = "open",
    reserve: bool = False,
    disposition: str | None = None,
    due_at: datetime | None = None,
    window: str = "A01",
    staff: str = "1001",
) -> CallbackEntry:
    """Entry ``n`` of the worklist, with its ticket ``A<n>`` served the day before the work day
    (phone ``phone(n)``)."""
    day = wl.served_to
    enc, digest = cipher.seal(phone(n))
    t = Ticket(
        hall_id=wl.hall_id,
        key=f"{wl.hall_id}:{day}:A{n:03d}",
        number=f"A{n:03d}",
        matter_id=_matter(session, "M001").id,
        window_id=_window(session, wl.hall_id, window).id,
        staff_id=_staff(session, wl.hall_id, staff).id,
        issued_at=at(day, 9),
        called_at=at(day, 9, 5),
        finished_at=at(day, 9, 20),
        phone_enc=enc,
        phone_hash=digest,
        local_day=day,
    )
    session.add(t)
    session.flush()
    e = CallbackEntry(
        worklist_id=wl.id,
        hall_id=wl.hall_id,
        ticket_id=t.id,
        ticket_day=day,
        reason="served",
        stratum=f"{window}|{staff}",
        reserve=reserve,
        position=n,
        phone_hash=digest or "",
        due_at=due_at or wl.due_at,
        state=state,
        disposition=disposition,
    )
    session.add(e)
    session.flush()
    return e


def attempt(
    session: Session,
    e: CallbackEntry,
    username: str,
    disposition: str,
    when: datetime,
    level: str | None = None,
) -> None:
    session.add(
        CallbackAttempt(
            entry_id=e.id,
            attempt_key=f"k{e.id}-{e.attempts}",
            at=when,
            username=username,
            via="agent",
            disposition=disposition,
            level=level,
        )
    )
    e.attempts += 1
    e.disposition = disposition
    session.flush()


def phone_evaluation(session: Session, hall_code: str, key: str, level: str, when: datetime) -> Any:
    """A counted ``phone`` evaluation, as record_attempt stores one."""
    result = ingest_evaluations(
        session,
        [
            {
                "key": key,
                "rev": 0,
                "channel": "phone",
                "level": level,
                "occurred_at": when.isoformat(),
                "time_source": "import",
                "hall": hall_code,
                "window": "A01",
                "ticket": None,
                "staff": None,
                "device": None,
                "attribution": "attributed",
                "flags": [],
            }
        ],
        "test:callbacks",
    )
    assert not result.rejected, result.rejected
    return result
