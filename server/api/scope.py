"""Shared query parameters: which hall/window/department/staff, and which period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.aggregates import Filters
from server.api.deps import Caller
from server.models import Department, Hall, Staff, Window
from server.periods import Period, date_range, parse_period
from server.results import describe_period

__all__ = ["describe_period", "hall_by_code", "resolve_period", "resolve_scope"]


def resolve_period(period: str | None, start: date | None, end: date | None, tz: str) -> Period:
    if period and (start or end):
        raise HTTPException(400, "give either period= or from= and to=, not both")
    if period:
        return parse_period(period, tz)
    if start and end:
        return date_range(start, end, tz)
    raise HTTPException(
        400, "give period= (2026, 2026Q4, 2026-11, 2026-11-23) or from= and to= (dates)"
    )


def hall_by_code(session: Session, code: str) -> Hall:
    hall = session.scalars(select(Hall).where(Hall.code == code)).first()
    if hall is None:
        raise HTTPException(404, f"unknown hall {code!r}")
    return hall


@dataclass(frozen=True)
class Scope:
    filters: Filters
    described: dict[str, Any]
    hall: Hall | None


def resolve_scope(
    session: Session,
    caller: Caller,
    hall: str | None,
    window: str | None = None,
    department: str | None = None,
    staff: str | None = None,
) -> Scope:
    """Filters for the caller's request; a hall-bound account is kept to its own hall."""
    if hall is None and caller.hall_ids is not None:
        if len(caller.hall_ids) > 1:
            raise HTTPException(400, "this account works for several halls: give hall=")
        hall_row: Hall | None = session.get(Hall, next(iter(caller.hall_ids)))
    elif hall is not None:
        hall_row = hall_by_code(session, hall)
        caller.check_read(hall_row.id)
    else:
        hall_row = None
    if hall_row is None and (window or department or staff):
        raise HTTPException(400, "window, department and staff need hall=")
    described: dict[str, Any] = {"hall": hall_row.code if hall_row else None}
    window_id = department_id = staff_id = None
    if hall_row is not None:
        if window:
            window_id = _id(session, Window, Window.code, hall_row.id, window, "window")
        if department:
            department_id = _id(
                session, Department, Department.code, hall_row.id, department, "department"
            )
        if staff:
            staff_id = _id(session, Staff, Staff.number, hall_row.id, staff, "staff member")
    described.update(window=window, department=department, staff=staff)
    filters = Filters(
        hall_ids=(hall_row.id,) if hall_row else None,
        department_id=department_id,
        window_id=window_id,
        staff_id=staff_id,
    )
    return Scope(filters, described, hall_row)


def _id(session: Session, model: Any, col: Any, hall_id: int, code: str, what: str) -> int:
    found = session.scalar(select(model.id).where(model.hall_id == hall_id, col == code))
    if found is None:
        raise HTTPException(404, f"unknown {what} {code!r} in this hall")
    return int(found)
