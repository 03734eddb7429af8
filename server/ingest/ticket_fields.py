"""The attribution fields an evaluation record takes from its ticket (number, day, window, staff,
matter): shared by the pipelines that rate a known ticket (SMS replies, phone call-backs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Matter, Staff, Ticket, Window


def ticket_record_fields(session: Session, ticket: Ticket) -> dict[str, Any]:
    """``{"ticket", "ticket_day", "window", "staff", "matter"}`` of ``ticket`` for an ingest
    record: its number and own hall-local day (its 一次一评 slot, whenever the rating comes), its
    codes (a window the hall does not have keeps its reported code; a missing code is None)."""
    return {
        "ticket": ticket.number,
        "ticket_day": ticket.local_day.isoformat(),
        "window": ticket.window_code or _code(session, Window.code, ticket.window_id),
        "staff": _code(session, Staff.number, ticket.staff_id),
        "matter": _code(session, Matter.code, ticket.matter_id),
    }


def _code(session: Session, column: Any, ident: int | None) -> str | None:
    if ident is None:
        return None
    value = session.scalar(select(column).where(column.table.c.id == ident))
    return str(value) if value is not None else None
