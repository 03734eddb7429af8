"""Call-back worklists built directly with the models (no draw): a hall with a window, staff
and matter, finished tickets with phone numbers, and entries on one worklist."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import (
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
SERVED = date(2026, 11, 20)  # a Friday
WORK_DAY = date(2026, 11, 23)  # the Monday after: calls start
DUE = datetime(2026, 11, 23, 17, 30, tzinfo=CN)


def phone(i: int) -> str:
    return f"1380000{i:04d}"


@dataclass
class Hall1:
    hall: Hall
    windows: dict[str, Window]
    staff: Staff
    matter: Matter
    tickets: list[Ticket] = field(default_factory=list)


def hall_with_desk(
    session: Session, code: str = "H1", windows: tuple[str, ...] = ("A03",)
) -> Hall1:
    """The hall (created if missing) with windows, staff 1001 and matter M-001."""
    hall = session.scalars(select(Hall).where(Hall.code == code)).first()
    if hall is None:
        hall = Hall(code=code, name=f"{code} 政务服务中心")
        session.add(hall)
        session.flush()
    rows: dict[str, Window] = {}
    for w in windows:
        row = session.scalars(
            select(Window).where(Window.hall_id == hall.id, Window.code == w)
        ).first()
        if row is None:
            row = Window(hall_id=hall.id, code=w, name=f"窗口{w}")
            session.add(row)
        rows[w] = row
    staff = Staff(hall_id=hall.id, number=f"{code}-1001", name="张三")
    matter = session.scalars(select(Matter).where(Matter.code == "M-001")).first()
    if matter is None:
        matter = Matter(code="M-001", name="营业执照办理")
        session.add(matter)
    session.add(staff)
    session.flush()
    return Hall1(hall, rows, staff, matter)


def add_ticket(
    session: Session, cipher: PhoneCipher, desk: Hall1, number: str, ph: str, window: str = "A03"
) -> Ticket:
    finished = datetime.combine(SERVED, datetime.min.time(), CN) + timedelta(hours=10)
    enc, digest = cipher.seal(ph)
    t = Ticket(
        hall_id=desk.hall.id,
        key=f"{desk.hall.code}:{SERVED}:{number}",
        number=number,
        window_id=desk.windows[window].id,
        staff_id=desk.staff.id,
        matter_id=desk.matter.id,
        issued_at=finished - timedelta(minutes=20),
        called_at=finished - timedelta(minutes=10),
        finished_at=finished,
        phone_enc=enc,
        phone_hash=digest,
        local_day=SERVED,
    )
    session.add(t)
    session.flush()
    desk.tickets.append(t)
    return t


def add_worklist(session: Session, desk: Hall1, kind: str = "sample") -> CallbackWorklist:
    wl = CallbackWorklist(
        hall_id=desk.hall.id,
        key=f"{desk.hall.code}:{kind}:2026Q4",
        kind=kind,
        label="2026Q4",
        served_from=SERVED,
        served_to=SERVED,
        work_day=WORK_DAY,
        due_at=DUE,
        seed="0" * 32,
        frame="{}",
        frame_sha256="0" * 64,
        policy="{}",
        planned=0,
        reserves=0,
        created_by="test",
    )
    session.add(wl)
    session.flush()
    return wl


def add_entry(
    session: Session,
    wl: CallbackWorklist,
    ticket: Ticket,
    *,
    position: int,
    reserve: bool = False,
    agent: User | None = None,
    reason: str = "sample",
) -> CallbackEntry:
    assert ticket.phone_hash is not None
    entry = CallbackEntry(
        worklist_id=wl.id,
        hall_id=wl.hall_id,
        ticket_id=ticket.id,
        ticket_day=ticket.local_day,
        reason=reason,
        stratum=f"{ticket.window_id}|{ticket.staff_id}",
        reserve=reserve,
        position=position,
        phone_hash=ticket.phone_hash,
        agent_id=agent.id if agent else None,
        due_at=wl.due_at,
        state="reserve" if reserve else "open",
    )
    session.add(entry)
    if reserve:
        wl.reserves += 1
    else:
        wl.planned += 1
    session.flush()
    return entry


def add_user(
    session: Session, username: str, role: str = "agent", hall: Hall | None = None
) -> User:
    user = User(
        username=username,
        password_hash=hash_password(f"{username}-password-1"),
        role=role,
        hall_id=hall.id if hall else None,
    )
    session.add(user)
    session.flush()
    return user
