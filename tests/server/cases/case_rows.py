"""Case rows written straight to the tables (as the engine leaves them), for the figures tests."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.calendar import WorkingDays
from server.models import Department, Evaluation, Hall
from server.models.cases import Case, CaseEvent

CN = ZoneInfo("Asia/Shanghai")
WD = WorkingDays()
_seq = itertools.count(1)
LIMITS = {"bad_rating": (1, 15), "complaint": (1, 5), "cannot_do": (None, 2)}


def at(day: date, hh: int = 10, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), CN).astimezone(UTC)


def hall(session: Session, code: str) -> Hall:
    row = session.scalars(select(Hall).where(Hall.code == code)).first()
    if row is None:
        row = Hall(code=code, name=f"{code} 政务服务中心")
        session.add(row)
        session.flush()
    return row


def department(session: Session, h: Hall, code: str, name: str) -> Department:
    d = Department(hall_id=h.id, code=code, name=name)
    session.add(d)
    session.flush()
    return d


def evaluation(session: Session, h: Hall, day: date, *, counted: bool = True) -> Evaluation:
    n = next(_seq)
    e = Evaluation(
        hall_id=h.id,
        key=f"case-rows:{n}",
        channel="evaluator",
        level="dissatisfied",
        occurred_at=at(day),
        local_day=day,
        time_source="device",
        ticket=f"T{n:04d}",
        ticket_day=day,
        attribution="attributed",
        flags="",
        excluded=not counted,
        counted=counted,
        source="test",
    )
    session.add(e)
    session.flush()
    return e


def case(
    session: Session,
    h: Hall,
    kind: str,
    opened: date,
    *,
    closed: date | None = None,
    category: str = "",
    **kw: Any,
) -> Case:
    """A case accepted at 10:00 on ``opened`` (deadlines as the default policy computes them),
    closed at 16:00 on ``closed`` when given; ``kw`` sets any other column."""
    first, limit = LIMITS[kind]
    if kind == "cannot_do":
        category = category or "general"
        limit = {"simple": 0, "general": 2, "complex": 5}[category]
    n = next(_seq)
    c = Case(
        hall_id=h.id,
        number=f"X{opened.year}{n:05d}",
        kind=kind,
        category=category,
        state="accepted",
        opened_at=at(opened),
        opened_day=opened,
        first_due=None if first is None else WD.add(opened, first),
        due=WD.add(opened, limit + kw.get("extended_days", 0)),
        extra={},
    )
    for key, value in kw.items():
        setattr(c, key, value)
    if closed is not None:
        c.state = "closed"
        c.closed_at = at(closed, 16)
        c.closed_day = closed
        c.closed_on_time = closed <= c.due
    session.add(c)
    session.flush()
    return c


def escalate(session: Session, c: Case, day: date) -> None:
    """The trail row the flags job writes when a case turns 督办."""
    session.add(
        CaseEvent(
            case_id=c.id,
            at=at(day, 0, 5),
            actor="system",
            actor_role="system",
            action="flag",
            from_state=c.state,
            to_state=c.state,
            data={"flag": ["red", "escalated"], "today": day.isoformat()},
        )
    )
    session.flush()
