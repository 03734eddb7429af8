"""The alerts API (docs/api.md "Alerts", docs/cases.md "Alerts"):

GET    /api/v1/alerts                  alerts, newest first, with the unread count (city admin:
                                       every hall; hall_admin / handler / viewer: their hall)
POST   /api/v1/alerts/{id}/read        mark one dashboard notification read
POST   /api/v1/alerts/read             mark every unread notification (of a hall) read
GET    /api/v1/alert-targets           a hall's webhook and SMS targets (city / hall admins)
POST   /api/v1/alert-targets           add one
PATCH  /api/v1/alert-targets/{id}      change name, address, secret, active
DELETE /api/v1/alert-targets/{id}      remove one
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from server.alerts.listing import AlertFilter, list_alerts, mark_read, unread_count
from server.alerts.targets import (
    MAX_NAME,
    MAX_SECRET,
    MAX_URL,
    TargetError,
    add_target,
    change_target,
    target_out,
)
from server.api.deps import Caller, ItemId, SessionDep, Writer, current_user
from server.api.fast_json import FastJSONRoute
from server.api.scope import hall_by_code
from server.db import begin_write
from server.models.cases import ALERT_CHANNELS, ALERT_EVENTS, ALERT_STATES, Alert, AlertTarget
from server.models.org import Hall

# orjson: a lone surrogate or NaN in a body is a 422 "JSON decode error", never a 500.
router = APIRouter(tags=["alerts"], route_class=FastJSONRoute)
ALERT_READERS = ("city_admin", "hall_admin", "handler", "viewer")
MARKERS = ("city_admin", "hall_admin", "handler")


def alert_reader(caller: Annotated[Caller, Depends(current_user)]) -> Caller:
    if caller.role not in ALERT_READERS:
        raise HTTPException(403, f"role {caller.role} may not read alerts")
    return caller


def alert_marker(caller: Annotated[Caller, Depends(current_user)]) -> Caller:
    if caller.role not in MARKERS:
        raise HTTPException(403, f"role {caller.role} may not mark alerts read")
    return caller


Reader = Annotated[Caller, Depends(alert_reader)]
Marker = Annotated[Caller, Depends(alert_marker)]


def _halls(session: SessionDep, caller: Caller, hall: str | None) -> tuple[int, ...] | None:
    if hall is not None:
        row = hall_by_code(session, hall)
        caller.check_read(row.id)
        return (row.id,)
    return None if caller.hall_ids is None else tuple(sorted(caller.hall_ids))


class AlertPage(BaseModel):
    items: list[dict[str, Any]]
    unread: int = Field(description="unread dashboard notifications in the caller's halls")
    next_cursor: str | None


@router.get("/alerts", response_model=AlertPage)
def get_alerts(
    session: SessionDep,
    caller: Reader,
    hall: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[Literal[ALERT_STATES] | None, Query()] = None,  # type: ignore[valid-type]
    event: Annotated[Literal[ALERT_EVENTS] | None, Query()] = None,  # type: ignore[valid-type]
    channel: Annotated[Literal[ALERT_CHANNELS] | None, Query()] = None,  # type: ignore[valid-type]
    unread: Annotated[bool, Query(description="only unread dashboard notifications")] = False,
    case: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="a case's id")] = None,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    if cursor is not None and (not cursor.isdigit() or len(cursor) > 18):
        raise HTTPException(400, "cursor must be the next_cursor of a previous page")
    hall_ids = _halls(session, caller, hall)
    f = AlertFilter(hall_ids, state, event, channel, unread, case)
    items = list_alerts(session, f, before=int(cursor) if cursor else None, limit=limit + 1)
    more = len(items) > limit
    return {
        "items": items[:limit],
        "unread": unread_count(session, hall_ids),
        "next_cursor": str(items[limit - 1]["id"]) if more else None,
    }


@router.post(
    "/alerts/{alert_id}/read",
    responses={
        403: {"description": "another hall's alert, or a read-only role"},
        404: {"description": "no such alert"},
        409: {"description": "not a dashboard notification"},
    },
)
def read_alert(alert_id: ItemId, session: SessionDep, caller: Marker) -> dict[str, Any]:
    begin_write(session)
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id}")
    caller.check_read(alert.hall_id)
    if alert.channel != "dashboard":
        raise HTTPException(409, f"alert {alert_id} is a {alert.channel} alert, not a notification")
    if alert.read_at is None:
        alert.read_at = datetime.now(UTC)
        alert.read_by = caller.username[:64]
    session.commit()
    return {"id": alert.id, "read_at": alert.read_at, "read_by": alert.read_by}


class ReadAllIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hall: str | None = Field(default=None, max_length=64, description="default: every hall")


@router.post("/alerts/read")
def read_all(session: SessionDep, caller: Marker, body: ReadAllIn | None = None) -> dict[str, int]:
    """No body at all is ``{}``: every hall of the caller."""
    hall_ids = _halls(session, caller, body.hall if body is not None else None)
    begin_write(session)
    marked = mark_read(session, hall_ids, caller.username, datetime.now(UTC))
    session.commit()
    return {"marked": marked}


# ---- targets ------------------------------------------------------------------------------


def _target_error(exc: TargetError) -> HTTPException:
    return HTTPException(409 if exc.conflict else 422, str(exc))


def _target(session: SessionDep, caller: Caller, target_id: int) -> tuple[AlertTarget, Hall]:
    target = session.get(AlertTarget, target_id)
    if target is None:
        raise HTTPException(404, f"no alert target {target_id}")
    caller.check_write(target.hall_id)
    hall = session.get(Hall, target.hall_id)
    assert hall is not None
    return target, hall


@router.get("/alert-targets")
def get_targets(
    session: SessionDep,
    caller: Writer,
    hall: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    hall_ids = _halls(session, caller, hall)
    q = select(AlertTarget, Hall.code).join(Hall, Hall.id == AlertTarget.hall_id)
    if hall_ids is not None:
        q = q.where(AlertTarget.hall_id.in_(hall_ids))
    rows = session.execute(q.order_by(Hall.code, AlertTarget.id)).all()
    return {"items": [target_out(t, code) for t, code in rows]}


def _longest(n: int) -> dict[str, Any]:
    return {"maxLength": n}


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hall: str = Field(max_length=64, description="hall code")
    channel: Literal["webhook", "sms"]
    # The lengths are checked by server/alerts/targets.py, with the messages of docs/cases.md
    # "Targets" (the body itself is capped at 16 KiB); the schema still shows them.
    address: str = Field(
        min_length=1,
        json_schema_extra=_longest(MAX_URL),
        description="http(s) URL, or 11-digit mobile",
    )
    name: str = Field(default="", json_schema_extra=_longest(MAX_NAME))
    secret: str = Field(
        default="", json_schema_extra=_longest(MAX_SECRET), description="webhook HMAC key"
    )
    active: bool = True


class TargetPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(default=None, min_length=1, json_schema_extra=_longest(MAX_URL))
    name: str | None = Field(default=None, json_schema_extra=_longest(MAX_NAME))
    secret: str | None = Field(
        default=None, json_schema_extra=_longest(MAX_SECRET), description='"" removes it'
    )
    active: bool | None = None


@router.post(
    "/alert-targets",
    status_code=201,
    responses={409: {"description": "the hall already has this target"}},
)
def post_target(body: TargetIn, session: SessionDep, caller: Writer) -> dict[str, Any]:
    hall = hall_by_code(session, body.hall)
    caller.check_write(hall.id)
    begin_write(session)
    try:
        target = add_target(
            session,
            hall,
            body.channel,
            body.address,
            name=body.name,
            secret=body.secret,
            active=body.active,
        )
    except TargetError as exc:
        raise _target_error(exc) from None
    session.commit()
    return target_out(target, hall.code)


@router.patch("/alert-targets/{target_id}")
def patch_target(
    target_id: ItemId, body: TargetPatch, session: SessionDep, caller: Writer
) -> dict[str, Any]:
    begin_write(session)
    target, hall = _target(session, caller, target_id)
    try:
        change_target(
            session,
            target,
            address=body.address,
            name=body.name,
            secret=body.secret,
            active=body.active,
        )
    except TargetError as exc:
        raise _target_error(exc) from None
    session.commit()
    return target_out(target, hall.code)


@router.delete("/alert-targets/{target_id}", status_code=204)
def delete_target(target_id: ItemId, session: SessionDep, caller: Writer) -> Response:
    begin_write(session)
    target, _hall = _target(session, caller, target_id)
    session.delete(target)
    session.commit()
    return Response(status_code=204)
