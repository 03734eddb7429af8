"""/api/v1/cases (docs/cases.md "API", docs/api.md): thin routes over server/cases/service.py.

GET  /api/v1/cases                      list (hall, kind, state, flag, from/to, cursor paging)
POST /api/v1/cases                      open a complaint or cannot_do case
GET  /api/v1/cases/{id}                 one case with its trail
GET  /api/v1/cases/{id}/phone           the citizen's number unmasked (audited in the trail)
POST /api/v1/cases/{id}/actions         act: action, fields, note, version

Roles: city_admin every hall; hall_admin its hall; handler its hall, and when bound to a
department only the cases assigned to that department (it reads every case of its hall);
viewer reads; agent reads and records the ``callback`` of bad_rating cases.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from server.api.deps import (
    PLAIN_TEXT,
    BigItemId,
    Caller,
    CurrentUser,
    PolicyDep,
    SessionDep,
    SettingsDep,
)
from server.api.fast_json import FastJSONRoute
from server.api.scope import hall_by_code
from server.cases.fields import CaseError
from server.cases.payload import case_payload
from server.cases.service import act, add_event, open_case
from server.cases.states import ACTIONS, STATES
from server.db import begin_write
from server.models import PHONE_ROLES, Department, User
from server.models.base import utcnow
from server.models.cases import CASE_CATEGORIES, CASE_FLAGS, CASE_KINDS, Case

# orjson: a lone surrogate or NaN in a body is a 422 "JSON decode error", never a 500.
router = APIRouter(prefix="/cases", tags=["cases"], route_class=FastJSONRoute)

WORK_ROLES = ("city_admin", "hall_admin", "handler")
CASE_ID = "/{case_id:int}"


def _fail(exc: CaseError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


def _department_of(session: Session, caller: Caller) -> int | None:
    if caller.role != "handler":
        return None
    return session.scalar(select(User.department_id).where(User.id == caller.user_id))


def _load(session: Session, caller: Caller, case_id: int, *, lock: bool = False) -> Case:
    stmt = select(Case).where(Case.id == case_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case = session.scalar(stmt)
    if case is None or not caller.sees(case.hall_id):
        raise HTTPException(404, f"no case with id {case_id}")
    return case


def check_act(session: Session, caller: Caller, case: Case, action: str) -> None:
    """Whether the caller may do ``action`` on the case (403 with the reason)."""
    if caller.role == "agent":
        if action == "callback" and case.kind == "bad_rating":
            return
        raise HTTPException(403, "an agent may only record the callback of bad_rating cases")
    if caller.role not in WORK_ROLES:
        raise HTTPException(403, f"role {caller.role} may read cases, not change them")
    if caller.role == "handler":
        dept = _department_of(session, caller)
        if dept is not None and case.assignee_department_id != dept:
            raise HTTPException(403, "this handler works only the cases assigned to its department")


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hall: str | None = Field(
        default=None, max_length=32, description="hall code (default: the caller's hall)"
    )
    kind: Literal["complaint", "cannot_do"]
    category: Literal["", "simple", "general", "complex"] = Field(
        default="", description="cannot_do: simple / general / complex (简单 / 一般 / 复杂)"
    )
    fields: dict[str, Any] = Field(
        default_factory=dict, description="the case's fields (docs/cases.md 'Fields')"
    )


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # No length bound here: any other value gets the service's "unknown action '…'" message.
    action: str = Field(description=", ".join(ACTIONS[1:]))
    fields: dict[str, Any] = Field(default_factory=dict)
    note: str = Field(default="", max_length=2000, description="退回 and 延期: the reason")
    version: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="the version you read (409 when stale)"
    )


@router.get("")
def list_cases(
    session: SessionDep,
    caller: CurrentUser,
    hall: Annotated[str | None, Query(max_length=32)] = None,
    kind: Literal[CASE_KINDS] | None = None,  # type: ignore[valid-type]
    state: Literal[STATES] | None = None,  # type: ignore[valid-type]
    flag: Literal[CASE_FLAGS] | None = None,  # type: ignore[valid-type]
    category: Literal[CASE_CATEGORIES] | None = None,  # type: ignore[valid-type]
    open_only: Annotated[bool, Query(alias="open", description="open cases only")] = False,
    assignee_department: Annotated[str | None, Query(max_length=32)] = None,
    start: Annotated[date | None, Query(alias="from", description="opened on or after")] = None,
    end: Annotated[date | None, Query(alias="to", description="opened on or before")] = None,
    q: Annotated[
        str | None,
        Query(max_length=32, pattern=PLAIN_TEXT, description="part of the number, or the ticket"),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=18)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Cases newest first; ``next_cursor`` pages on."""
    stmt = select(Case)
    if hall is not None:
        hall_id = hall_by_code(session, hall).id
        caller.check_read(hall_id)
        stmt = stmt.where(Case.hall_id == hall_id)
    elif caller.hall_ids is not None:
        stmt = stmt.where(Case.hall_id.in_(caller.hall_ids))
    if assignee_department is not None:
        if hall is None:
            raise HTTPException(400, "assignee_department needs hall=")
        dept = session.scalar(
            select(Department.id).where(
                Department.hall_id == hall_id, Department.code == assignee_department
            )
        )
        if dept is None:
            raise HTTPException(404, f"unknown department {assignee_department!r} in this hall")
        stmt = stmt.where(Case.assignee_department_id == dept)
    for column, value in (
        (Case.kind, kind),
        (Case.state, state),
        (Case.flag, flag),
        (Case.category, category),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if open_only:
        stmt = stmt.where(Case.state != "closed")
    if q and q.strip():  # the case pages' search box (docs/cases.md "Pages")
        term = q.strip()
        stmt = stmt.where(
            or_(Case.number.contains(term.upper(), autoescape=True), Case.ticket == term)
        )
    if start is not None:
        stmt = stmt.where(Case.opened_day >= start)
    if end is not None:
        stmt = stmt.where(Case.opened_day <= end)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    if cursor is not None:
        if not cursor.isdigit():
            raise HTTPException(400, "cursor must be the next_cursor of a previous page")
        stmt = stmt.where(Case.id < int(cursor))
    rows = list(session.scalars(stmt.order_by(Case.id.desc()).limit(limit + 1)))
    items = [case_payload(c) for c in rows[:limit]]
    return {
        "items": items,
        "total": total,
        "next_cursor": str(rows[limit - 1].id) if len(rows) > limit else None,
    }


@router.post("", status_code=201)
def create_case(
    body: CaseIn, session: SessionDep, caller: CurrentUser, policy: PolicyDep, settings: SettingsDep
) -> dict[str, Any]:
    if caller.role not in WORK_ROLES:
        raise HTTPException(403, f"role {caller.role} may not open cases")
    if body.hall is not None:
        hall_id = hall_by_code(session, body.hall).id
        caller.check_read(hall_id)
    elif caller.hall_id is not None:
        hall_id = caller.hall_id
    else:
        raise HTTPException(422, "give hall (this account is not bound to one)")
    begin_write(session)
    try:
        case = open_case(
            session,
            policy,
            hall_id=hall_id,
            kind=body.kind,
            category=body.category,
            fields=body.fields,
            actor=caller.username,
            actor_role=caller.role,
            now=utcnow(),
            cipher=settings.phone_cipher,
        )
    except CaseError as exc:
        session.rollback()
        raise _fail(exc) from None
    session.commit()
    return case_payload(case, with_trail=True)


@router.get(CASE_ID)
def get_case(case_id: BigItemId, session: SessionDep, caller: CurrentUser) -> dict[str, Any]:
    return case_payload(_load(session, caller, case_id), with_trail=True)


@router.get(CASE_ID + "/phone")
def read_case_phone(
    case_id: BigItemId,
    session: SessionDep,
    caller: CurrentUser,
    settings: SettingsDep,
    response: Response,
    purpose: Annotated[str, Query(max_length=128, pattern=PLAIN_TEXT)] = "",
) -> dict[str, Any]:
    """The number unmasked for city_admin and agent (PHONE_ROLES) and for a handler who may
    work the case; each read is a "phone" row in the trail."""
    case = _load(session, caller, case_id)
    if caller.role == "handler":
        check_act(session, caller, case, "note")
    elif caller.role not in PHONE_ROLES:
        raise HTTPException(403, f"role {caller.role} sees phone numbers masked only")
    if case.phone_enc is None:
        raise HTTPException(404, "this case has no phone number")
    payload = case_payload(case, show_phone=True, cipher=settings.phone_cipher)
    if payload["phone"] is None:
        raise HTTPException(409, "the stored phone number cannot be decrypted with this key")
    begin_write(session)
    case = _load(session, caller, case_id)
    add_event(
        session,
        case,
        "phone",
        actor=caller.username,
        actor_role=caller.role,
        now=utcnow(),
        from_state=case.state,
        note=purpose,
    )
    session.commit()
    response.headers["Cache-Control"] = "no-store"
    return {"case_id": case_id, "phone": payload["phone"]}


@router.post(CASE_ID + "/actions")
def case_action(
    case_id: BigItemId,
    body: ActionIn,
    session: SessionDep,
    caller: CurrentUser,
    policy: PolicyDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    begin_write(session)
    case = _load(session, caller, case_id, lock=True)
    check_act(session, caller, case, body.action)
    try:
        act(
            session,
            policy,
            case,
            body.action,
            actor=caller.username,
            actor_role=caller.role,
            now=utcnow(),
            fields=body.fields,
            note=body.note,
            expected_version=body.version,
            cipher=settings.phone_cipher,
        )
    except CaseError as exc:
        session.rollback()
        raise _fail(exc) from None
    session.commit()
    return case_payload(case, with_trail=True)
