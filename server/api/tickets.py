"""GET /api/v1/tickets: queue tickets with filters and cursor pagination."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import aliased

from server.api.deps import CurrentUser, SessionDep, SettingsDep
from server.api.scope import resolve_scope
from server.models import Hall, Matter, Staff, Ticket, Window

router = APIRouter(prefix="/tickets", tags=["tickets"])


class TicketOut(BaseModel):
    id: int
    key: str
    hall: str
    number: str
    matter: str | None
    window: str | None
    window_code: str | None = Field(
        description="a window code the hall does not have, kept as reported (window is null)"
    )
    staff: str | None
    issued_at: datetime | None
    called_at: datetime | None
    finished_at: datetime | None
    local_day: date
    source: str
    phone: str | None = Field(
        description="the citizen's phone number, masked (138****0001); null if none. "
        "Roles agent and city_admin read it unmasked with GET /tickets/{id}/phone (audited)"
    )


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None = Field(description="pass as cursor= for the next page")


_W, _S, _M = aliased(Window), aliased(Staff), aliased(Matter)


@router.get("", response_model=TicketPage)
def list_tickets(
    session: SessionDep,
    caller: CurrentUser,
    settings: SettingsDep,
    hall: Annotated[str | None, Query(max_length=64)] = None,
    window: Annotated[str | None, Query(max_length=64)] = None,
    staff: Annotated[str | None, Query(max_length=64)] = None,
    number: Annotated[str | None, Query(max_length=32)] = None,
    start: Annotated[date | None, Query(alias="from", description="hall-local day")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TicketPage:
    scope = resolve_scope(session, caller, hall, window, None, staff)
    f = scope.filters
    if cursor is not None and (not cursor.isdigit() or len(cursor) > 18):
        raise HTTPException(400, "cursor must be the next_cursor of a previous page")
    stmt: Any = (
        select(Ticket, Hall.code, _M.code, _W.code, _S.number)
        .join(Hall, Hall.id == Ticket.hall_id)
        .outerjoin(_M, _M.id == Ticket.matter_id)
        .outerjoin(_W, _W.id == Ticket.window_id)
        .outerjoin(_S, _S.id == Ticket.staff_id)
        .where(Ticket.id > int(cursor or 0))
    )
    if f.hall_ids is not None:
        stmt = stmt.where(Ticket.hall_id.in_(f.hall_ids))
    if f.window_id is not None:
        stmt = stmt.where(Ticket.window_id == f.window_id)
    if f.staff_id is not None:
        stmt = stmt.where(Ticket.staff_id == f.staff_id)
    if number is not None:
        stmt = stmt.where(Ticket.number == number)
    if start is not None:
        stmt = stmt.where(Ticket.local_day >= start)
    if end is not None:
        stmt = stmt.where(Ticket.local_day <= end)
    rows = session.execute(stmt.order_by(Ticket.id).limit(limit + 1)).all()
    cipher = settings.phone_cipher
    items = [
        TicketOut(
            id=t.id,
            key=t.key,
            hall=h,
            number=t.number,
            matter=m,
            window=w,
            window_code=t.window_code,
            staff=s,
            issued_at=t.issued_at,
            called_at=t.called_at,
            finished_at=t.finished_at,
            local_day=t.local_day,
            source=t.source,
            phone=cipher.masked(t.phone_enc),
        )
        for t, h, m, w, s in rows[:limit]
    ]
    return TicketPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)
