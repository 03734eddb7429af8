"""Unmasked phone numbers for the roles that must dial or text, and the audit of those reads.

GET /api/v1/tickets/{id}/phone   roles agent and city_admin; every answer is one audit row
GET /api/v1/audit/phone-reads    city admins: who read which ticket's number, when, why
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.deps import (
    PLAIN_TEXT,
    BigItemId,
    Caller,
    CityAdmin,
    CurrentUser,
    SessionDep,
    SettingsDep,
)
from server.api.scope import hall_by_code
from server.config import Settings
from server.db import begin_write
from server.models import PHONE_ROLES, Hall, PhoneRead, Ticket
from server.models.base import utcnow
from server.personal import PhoneKeyError

router = APIRouter(tags=["personal data"])
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


class PhoneOut(BaseModel):
    ticket_id: int
    phone: str = Field(description="the number as the queue system reported it, unmasked")
    audit_id: int = Field(description="the id of the audit row this read wrote")


@router.get("/tickets/{ticket_id}/phone", response_model=PhoneOut)
def read_phone(
    ticket_id: BigItemId,
    session: SessionDep,
    settings: SettingsDep,
    caller: CurrentUser,
    response: Response,
    purpose: Annotated[
        str, Query(max_length=128, pattern=PLAIN_TEXT, description="why, e.g. 回访 call-back")
    ] = "",
) -> PhoneOut:
    ticket = session.get(Ticket, ticket_id)
    if caller.role in PHONE_ROLES and ticket is None:
        raise HTTPException(404, f"ticket {ticket_id} does not exist")
    phone, audit_id = reveal_phone(session, settings, caller, ticket, purpose)
    response.headers["Cache-Control"] = "no-store"
    return PhoneOut(ticket_id=ticket_id, phone=phone, audit_id=audit_id)


def reveal_phone(
    session: Session, settings: Settings, caller: Caller, ticket: Ticket | None, purpose: str
) -> tuple[str, int]:
    """The ticket's number unmasked, after writing (and committing) one audit row: (phone,
    audit id). Roles agent and city_admin, of the ticket's hall. Shared by every route that
    reveals a number (the caller sets ``Cache-Control: no-store``)."""
    if caller.role not in PHONE_ROLES:
        raise HTTPException(403, f"role {caller.role} sees phone numbers masked only")
    if ticket is None:
        raise HTTPException(404, "the ticket does not exist")
    caller.check_read(ticket.hall_id)
    if ticket.phone_enc is None:
        raise HTTPException(404, "this ticket has no phone number (none reported, or purged)")
    try:
        phone = settings.phone_cipher.decrypt(ticket.phone_enc)
    except PhoneKeyError as exc:
        raise HTTPException(409, str(exc)) from exc
    hall_id, ticket_id = ticket.hall_id, ticket.id
    begin_write(session)
    row = PhoneRead(
        at=utcnow(),
        user_id=caller.user_id,
        username=caller.username,
        role=caller.role,
        hall_id=hall_id,
        ticket_id=ticket_id,
        purpose=purpose,
    )
    session.add(row)
    session.commit()
    return phone, row.id


class PhoneReadOut(BaseModel):
    id: int
    at: datetime
    username: str
    role: str
    hall: str
    ticket_id: int
    purpose: str


class PhoneReadPage(BaseModel):
    items: list[PhoneReadOut]
    next_cursor: str | None = Field(description="pass as cursor= for the next page")


@router.get("/audit/phone-reads", response_model=PhoneReadPage)
def phone_reads(
    session: SessionDep,
    settings: SettingsDep,
    _caller: CityAdmin,
    hall: Annotated[str | None, Query(max_length=64)] = None,
    username: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[date | None, Query(alias="from", description="day, HALLRATE_TZ")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> PhoneReadPage:
    if cursor is not None and (not cursor.isdigit() or len(cursor) > 18):
        raise HTTPException(400, "cursor must be the next_cursor of a previous page")
    stmt: Any = (
        select(PhoneRead, Hall.code)
        .join(Hall, Hall.id == PhoneRead.hall_id)
        .where(PhoneRead.id > int(cursor or 0))
    )
    if hall is not None:
        stmt = stmt.where(PhoneRead.hall_id == hall_by_code(session, hall).id)
    if username is not None:
        stmt = stmt.where(PhoneRead.username == username)
    zone = ZoneInfo(settings.tz)
    for day in (start, end):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise HTTPException(400, f"from and to must be days in {FIRST_DAY}..{LAST_DAY}")
    if start is not None:
        stmt = stmt.where(PhoneRead.at >= datetime.combine(start, time(), zone))
    if end is not None:
        stmt = stmt.where(PhoneRead.at < datetime.combine(end + timedelta(days=1), time(), zone))
    rows = session.execute(stmt.order_by(PhoneRead.id).limit(limit + 1)).all()
    items = [
        PhoneReadOut(
            id=r.id,
            at=r.at,
            username=r.username,
            role=r.role,
            hall=h,
            ticket_id=r.ticket_id,
            purpose=r.purpose,
        )
        for r, h in rows[:limit]
    ]
    return PhoneReadPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)
