"""Call-back routes for agents and admins (docs/api.md "Phone call-backs",
docs/phone-callbacks.md "Calls"):

GET   /api/v1/callbacks/dispositions          the codes, levels, 差评 reasons, limits
GET   /api/v1/callbacks/queue                 open entries to call (an agent's own)
GET   /api/v1/callbacks/entries/{id}          one entry with its attempts
POST  /api/v1/callbacks/entries/{id}/reveal   the number unmasked (agent, city_admin; audited)
POST  /api/v1/callbacks/entries/{id}/attempts one call attempt (idempotent on attempt_key)
PATCH /api/v1/callbacks/entries/{id}          assign to an agent, or withdraw (admins)
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from server.api.deps import (
    BigItemId,
    Caller,
    CurrentUser,
    PolicyDep,
    SessionDep,
    SettingsDep,
)
from server.api.phones import reveal_phone
from server.api.scope import hall_by_code
from server.callbacks import queue as views
from server.callbacks.calls import AttemptIn, CallbackError, record_attempt
from server.callbacks.dispositions import DISPOSITIONS
from server.db import begin_write
from server.models import LEVELS, AgentHall, CallbackEntry, Ticket, User
from server.models.base import utcnow

router = APIRouter(prefix="/callbacks", tags=["phone call-backs"])
LEVEL_LABELS = {
    "very_satisfied": ("非常满意", "Very satisfied"),
    "satisfied": ("满意", "Satisfied"),
    "basically_satisfied": ("基本满意", "Basically satisfied"),
    "dissatisfied": ("不满意", "Dissatisfied"),
    "very_dissatisfied": ("非常不满意", "Very dissatisfied"),
}
CALLING_ROLES = ("agent", "hall_admin", "city_admin")
ADMIN_ROLES = ("hall_admin", "city_admin")


@router.get("/dispositions")
def dispositions(caller: CurrentUser, policy: PolicyDep) -> dict[str, Any]:
    cb = policy.callbacks
    return {
        "dispositions": [
            {"code": d.code, "zh": d.zh, "en": d.en, "final": d.final, "aapor": d.aapor}
            for d in DISPOSITIONS.values()
        ],
        "levels": [
            {"code": code, "zh": LEVEL_LABELS[code][0], "en": LEVEL_LABELS[code][1]}
            for code in LEVELS
        ],
        "reasons": list(cb.dissatisfied_reasons),
        "max_attempts": cb.max_attempts,
        "call_hours": cb.call_hours,
    }


@router.get("/queue")
def get_queue(
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    caller: CurrentUser,
    hall: Annotated[str | None, Query(max_length=64)] = None,
    agent: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    if caller.role not in CALLING_ROLES:
        raise HTTPException(403, f"role {caller.role} has no call-back queue")
    hall_ids = None if caller.hall_ids is None else sorted(caller.hall_ids)
    if hall is not None:
        row = hall_by_code(session, hall)
        caller.check_read(row.id)
        hall_ids = [row.id]
    agent_id: int | None = None
    if caller.role == "agent":
        if agent is not None and agent != caller.username:
            raise HTTPException(403, "an agent sees its own queue only")
        agent_id = caller.user_id
    elif agent is not None:
        agent_id = session.scalar(select(User.id).where(User.username == agent))
        if agent_id is None:
            raise HTTPException(404, f"unknown user {agent!r}")
    items = views.queue(
        session,
        hall_ids=hall_ids,
        agent_id=agent_id,
        cipher=settings.phone_cipher,
        policy=policy.callbacks,
        now=utcnow(),
        limit=limit,
    )
    return {"items": items}


def _entry_row(session: Any, caller: Caller, entry_id: int) -> CallbackEntry:
    """The entry, if the caller may read it (another hall's: 403)."""
    row = session.get(CallbackEntry, entry_id)
    if row is None:
        raise HTTPException(404, f"call-back entry {entry_id} does not exist")
    caller.check_read(row.hall_id)
    return row


def _check_caller_of(caller: Caller, row: CallbackEntry) -> None:
    """Who may call this entry: an agent of its hall when it is assigned to that agent or to
    nobody; an admin of its hall."""
    if caller.role not in CALLING_ROLES:
        raise HTTPException(403, f"role {caller.role} may not record calls")
    if caller.role == "agent" and row.agent_id not in (None, caller.user_id):
        raise HTTPException(403, f"entry {row.id} is assigned to another agent")


def _view(session: Any, settings: Any, policy: Any, entry_id: int) -> dict[str, Any]:
    out = views.entry(
        session,
        entry_id,
        cipher=settings.phone_cipher,
        policy=policy.callbacks,
        now=utcnow(),
    )
    assert out is not None
    return out


@router.get("/entries/{entry_id}")
def get_entry(
    entry_id: BigItemId,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    caller: CurrentUser,
) -> dict[str, Any]:
    _entry_row(session, caller, entry_id)
    return {
        **_view(session, settings, policy, entry_id),
        "attempts": views.attempts(session, entry_id),
    }


@router.post("/entries/{entry_id}/reveal")
def reveal(
    entry_id: BigItemId,
    session: SessionDep,
    settings: SettingsDep,
    caller: CurrentUser,
    response: Response,
) -> dict[str, Any]:
    row = _entry_row(session, caller, entry_id)
    if caller.role == "agent":
        _check_caller_of(caller, row)
        if row.state != "open":
            raise HTTPException(409, f"entry {row.id} is {row.state}, not open: no call to make")
    ticket = session.get(Ticket, row.ticket_id)
    phone, audit_id = reveal_phone(session, settings, caller, ticket, f"回访 entry {entry_id}")
    response.headers["Cache-Control"] = "no-store"
    return {"entry_id": entry_id, "phone": phone, "audit_id": audit_id}


class AttemptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attempt_key: str = Field(max_length=64, description="1..64 of A-Z a-z 0-9 _ . : -")
    disposition: str = Field(max_length=32)
    level: str | None = Field(default=None, max_length=32)
    reasons: list[str] = Field(default_factory=list, max_length=16)
    comment: str = Field(default="", max_length=500)
    next_call_at: datetime | None = None
    opt_out: bool = False


@router.post("/entries/{entry_id}/attempts", status_code=201)
def post_attempt(
    entry_id: BigItemId,
    body: AttemptBody,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    caller: CurrentUser,
    response: Response,
) -> dict[str, Any]:
    row = _entry_row(session, caller, entry_id)
    _check_caller_of(caller, row)
    attempt = AttemptIn(
        attempt_key=body.attempt_key,
        disposition=body.disposition,
        level=body.level,
        reasons=tuple(body.reasons),
        comment=body.comment,
        next_call_at=body.next_call_at,
        opt_out=body.opt_out,
    )
    try:
        result = record_attempt(
            session,
            entry_id,
            attempt,
            user_id=caller.user_id,
            username=caller.username,
            via="agent",
            policy=policy,
            now=utcnow(),
        )
    except CallbackError as exc:
        raise HTTPException(exc.status, exc.message) from exc
    if not result.created:
        response.status_code = 200
    return {
        "entry": _view(session, settings, policy, entry_id),
        "attempt": views.attempt_out(result.attempt),
        "evaluation_key": result.evaluation_key,
    }


class EntryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str | None = Field(default=None, max_length=64)
    state: Literal["not_needed"] | None = None


@router.patch("/entries/{entry_id}")
def patch_entry(
    entry_id: BigItemId,
    body: EntryPatch,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    caller: CurrentUser,
) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    if not given:
        raise HTTPException(422, "give agent (a username or null) and/or state (not_needed)")
    row = _entry_row(session, caller, entry_id)
    if caller.role not in ADMIN_ROLES:
        raise HTTPException(403, f"role {caller.role} may not assign or withdraw entries")
    caller.check_write(row.hall_id)
    begin_write(session)
    fresh = session.get(CallbackEntry, entry_id, populate_existing=True)
    assert fresh is not None
    row = fresh
    if row.state not in ("open", "reserve") and not (
        row.state == "not_needed" and set(given) == {"state"}
    ):
        raise HTTPException(409, f"entry {row.id} is {row.state}: it can no longer change")
    if "agent" in given:
        row.agent_id = None if body.agent is None else _agent_of(session, body.agent, row.hall_id)
    if body.state == "not_needed":
        row.state = "not_needed"
        row.next_call_at = None
    row.updated_at = utcnow()
    session.commit()
    return _view(session, settings, policy, entry_id)


def _agent_of(session: Any, username: str, hall_id: int) -> int:
    """The id of ``username`` if it is an active agent of the hall, else 422."""
    user = session.scalar(select(User).where(User.username == username))
    if user is not None and user.role == "agent" and user.active:
        in_hall = user.hall_id == hall_id or session.scalar(
            select(AgentHall.user_id).where(
                AgentHall.user_id == user.id, AgentHall.hall_id == hall_id
            )
        )
        if in_hall:
            return int(user.id)
    raise HTTPException(422, f"{username!r} is not an active agent of this entry's hall")
