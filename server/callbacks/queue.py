"""The agents' queue and the Entry view of call-back entries (docs/phone-callbacks.md "Calls",
docs/api.md "Phone call-backs"): masked number, the ticket's window, staff and matter, and the
policy's script filled in for this citizen."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session, aliased

from server.callbacks.policy import CallbackPolicy
from server.models import (
    CallbackAttempt,
    CallbackEntry,
    Hall,
    Matter,
    Staff,
    Ticket,
    User,
    Window,
)
from server.personal import PhoneCipher

PLACEHOLDER = re.compile(r"\{(hall|window|matter|date|ticket)\}")


@dataclass(frozen=True)
class ScriptFields:
    hall: str
    window: str
    matter: str
    day: date
    ticket: str


def render_script(template: str, f: ScriptFields, english: bool = False) -> str:
    """``{hall} {window} {matter} {date} {ticket}`` replaced; any other brace text is kept."""
    day = f.day.isoformat() if english else f"{f.day.year}年{f.day.month}月{f.day.day}日"
    values = {"hall": f.hall, "window": f.window, "matter": f.matter, "date": day}
    values["ticket"] = f.ticket
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _stmt() -> Any:
    agent = aliased(User)
    return (
        select(
            CallbackEntry,
            Hall.code,
            Hall.name,
            Ticket.number,
            Ticket.phone_enc,
            Ticket.window_code,
            Window.code,
            Staff.number,
            Staff.name,
            Matter.code,
            Matter.name,
            agent.username,
        )
        .join(Hall, Hall.id == CallbackEntry.hall_id)
        .join(Ticket, Ticket.id == CallbackEntry.ticket_id)
        .outerjoin(Window, Window.id == Ticket.window_id)
        .outerjoin(Staff, Staff.id == Ticket.staff_id)
        .outerjoin(Matter, Matter.id == Ticket.matter_id)
        .outerjoin(agent, agent.id == CallbackEntry.agent_id)
    )


def entries(
    session: Session,
    where: Sequence[Any],
    *,
    cipher: PhoneCipher,
    policy: CallbackPolicy,
    now: datetime,
    order: Sequence[Any] = (),
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The Entry view of the entries matching ``where``."""
    stmt = _stmt().where(*where).order_by(*order, CallbackEntry.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    out = []
    for row in session.execute(stmt).all():
        (e, hall, hall_name, number, enc, wcode, window, staff, sname, matter, mname, ag) = row
        window = window or wcode
        fields = ScriptFields(
            hall=hall_name or hall,
            window=window or "",
            matter=mname or matter or "",
            day=e.ticket_day,
            ticket=number,
        )
        out.append(
            {
                "id": e.id,
                "worklist_id": e.worklist_id,
                "hall": hall,
                "ticket_id": e.ticket_id,
                "ticket": number,
                "ticket_day": e.ticket_day,
                "window": window,
                "staff": staff,
                "staff_name": sname,
                "matter": matter,
                "matter_name": mname,
                "reason": e.reason,
                "reserve": e.reserve,
                "state": e.state,
                "attempts": e.attempts,
                "max_attempts": policy.max_attempts,
                "disposition": e.disposition,
                "due_at": e.due_at,
                "overdue": e.state == "open" and e.due_at < now,
                "next_call_at": e.next_call_at,
                "agent": ag,
                "phone_masked": cipher.masked(enc),
                "script": render_script(policy.script, fields),
                "script_en": render_script(policy.script_en, fields, english=True),
            }
        )
    return out


def entry(
    session: Session, entry_id: int, *, cipher: PhoneCipher, policy: CallbackPolicy, now: datetime
) -> dict[str, Any] | None:
    found = entries(session, [CallbackEntry.id == entry_id], cipher=cipher, policy=policy, now=now)
    return found[0] if found else None


def queue(
    session: Session,
    *,
    hall_ids: Sequence[int] | None,
    agent_id: int | None,
    cipher: PhoneCipher,
    policy: CallbackPolicy,
    now: datetime,
    limit: int,
) -> list[dict[str, Any]]:
    """Open entries (of ``hall_ids``, None: every hall; of ``agent_id`` if given): those to call
    now (next_call_at null or past) first, by due time and draw position; then the later
    retries by their next call."""
    ready = or_(CallbackEntry.next_call_at.is_(None), CallbackEntry.next_call_at <= now)
    where: list[Any] = [CallbackEntry.state == "open"]
    if hall_ids is not None:
        where.append(CallbackEntry.hall_id.in_(hall_ids))
    if agent_id is not None:
        where.append(CallbackEntry.agent_id == agent_id)
    order = (
        case((ready, 0), else_=1),
        case((ready, None), else_=CallbackEntry.next_call_at),
        CallbackEntry.due_at,
        CallbackEntry.position,
    )
    return entries(session, where, cipher=cipher, policy=policy, now=now, order=order, limit=limit)


def attempts(session: Session, entry_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(CallbackAttempt)
        .where(CallbackAttempt.entry_id == entry_id)
        .order_by(CallbackAttempt.at, CallbackAttempt.id)
    )
    return [attempt_out(a) for a in rows]


def attempt_out(a: CallbackAttempt) -> dict[str, Any]:
    return {
        "id": a.id,
        "at": a.at,
        "username": a.username,
        "via": a.via,
        "disposition": a.disposition,
        "level": a.level,
        "reasons": [r for r in a.reasons.split(",") if r],
        "comment": a.comment,
        "next_call_at": a.next_call_at,
    }
