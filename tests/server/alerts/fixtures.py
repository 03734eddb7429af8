"""A hall with a window, a staff member, a 差评 and its bad_rating case, as the engine stores them
(rows written directly: the alerts do not depend on how a case was opened)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Evaluation, Hall, Staff, Window
from server.models.cases import AlertTarget, Case
from server.policy import Policy

NOW = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday


@dataclass
class Hall1:
    hall: Hall
    window: Window
    staff: Staff


def add_hall(session: Session, code: str = "H1") -> Hall1:
    """The hall ``code`` (made if missing) with window A03 and staff 1001 张三."""
    hall = session.scalars(select(Hall).where(Hall.code == code)).first()
    if hall is None:
        hall = Hall(code=code, name="环翠区政务服务中心")
        session.add(hall)
        session.flush()
    window = session.scalars(
        select(Window).where(Window.hall_id == hall.id, Window.code == "A03")
    ).first()
    if window is None:
        window = Window(hall_id=hall.id, code="A03", name="社保")
        session.add(window)
    staff = session.scalars(
        select(Staff).where(Staff.hall_id == hall.id, Staff.number == "1001")
    ).first()
    if staff is None:
        staff = Staff(hall_id=hall.id, number="1001", name="张三")
        session.add(staff)
    session.flush()
    return Hall1(hall, window, staff)


_seq = [0]


def add_case(
    session: Session, h: Hall1, *, kind: str = "bad_rating", now: datetime = NOW, **kw: Any
) -> Case:
    _seq[0] += 1
    evaluation_id = None
    if kind == "bad_rating":
        ev = Evaluation(
            hall_id=h.hall.id,
            key=f"EV-A03:1:{_seq[0]}",
            channel="evaluator",
            level="dissatisfied",
            occurred_at=now,
            local_day=now.date(),
            time_source="device",
            window_id=h.window.id,
            staff_id=h.staff.id,
            ticket="A012",
            ticket_day=now.date(),
            attribution="attributed",
            counted=True,
            source="gateway:gw-h1",
        )
        session.add(ev)
        session.flush()
        evaluation_id = ev.id
    prefix = {"bad_rating": "CP", "complaint": "TS", "cannot_do": "BC"}[kind]
    case = Case(
        hall_id=h.hall.id,
        number=f"{prefix}2026{_seq[0]:05d}",
        kind=kind,
        category=kw.pop("category", "general" if kind == "cannot_do" else ""),
        origin="rating" if kind == "bad_rating" else "manual",
        evaluation_id=evaluation_id,
        window_id=h.window.id,
        staff_id=h.staff.id,
        ticket="A012" if kind == "bad_rating" else None,
        opened_at=now,
        opened_day=now.date(),
        first_due=kw.pop("first_due", date(2026, 9, 29)),
        due=kw.pop("due", date(2026, 10, 19)),
        **kw,
    )
    session.add(case)
    session.flush()
    return case


def add_target(session: Session, h: Hall1, channel: str, address: str, **kw: Any) -> AlertTarget:
    target = AlertTarget(hall_id=h.hall.id, channel=channel, address=address, **kw)
    session.add(target)
    session.flush()
    return target


def policy(**alerts: Any) -> Policy:
    return Policy.model_validate({"alerts": alerts})
