"""Call-back worklist routes (docs/phone-callbacks.md "API", docs/api.md):

POST /api/v1/callbacks/worklists              draw a daily list or a period sample (201), or
                                              return the list of that key (200)
GET  /api/v1/callbacks/worklists              lists by hall, kind and work-day range
GET  /api/v1/callbacks/worklists/{id}         one list
GET  /api/v1/callbacks/worklists/{id}/verify  redraw from the stored frame and seed
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from server.api.deps import CurrentUser, ItemId, PolicyDep, SessionDep
from server.api.scope import hall_by_code
from server.callbacks.draw import DrawError, UnknownHall, draw_worklist
from server.callbacks.verify import verify_worklist, worklist_view
from server.models.callbacks import CallbackWorklist

router = APIRouter(prefix="/callbacks", tags=["callbacks"])


class DrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hall: str = Field(min_length=1, max_length=32)
    kind: Literal["daily", "sample"]
    day: date | None = Field(default=None, description="kind daily: the work day")
    period: str | None = Field(
        default=None, max_length=32, description="kind sample: a month or quarter (2026-11, 2026Q4)"
    )
    seed: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{32}$")


@router.post("/worklists", status_code=201)
def draw(
    body: DrawIn, session: SessionDep, caller: CurrentUser, policy: PolicyDep, response: Response
) -> dict[str, Any]:
    if body.kind == "daily" and (body.day is None or body.period is not None):
        raise HTTPException(422, 'kind "daily" needs "day" (YYYY-MM-DD) and no "period"')
    if body.kind == "sample" and (body.period is None or body.day is not None):
        raise HTTPException(422, 'kind "sample" needs "period" (2026-11, 2026Q4) and no "day"')
    hall = hall_by_code(session, body.hall)
    caller.check_write(hall.id)
    when: date | str = body.day if body.kind == "daily" and body.day else str(body.period)
    try:
        res = draw_worklist(
            session,
            hall.code,
            body.kind,
            when,
            policy=policy,
            now=datetime.now(UTC),
            seed=body.seed,
            created_by=caller.username,
        )
    except UnknownHall as e:
        raise HTTPException(404, str(e)) from None
    except DrawError as e:
        raise HTTPException(422, str(e)) from None
    if not res.created:
        response.status_code = 200
    return worklist_view(session, res.worklist)


@router.get("/worklists")
def list_worklists(
    session: SessionDep,
    caller: CurrentUser,
    hall: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[Literal["daily", "sample"] | None, Query()] = None,
    start: Annotated[date | None, Query(alias="from", description="first work day")] = None,
    end: Annotated[date | None, Query(alias="to", description="last work day")] = None,
) -> dict[str, Any]:
    q = select(CallbackWorklist)
    if hall is not None:
        row = hall_by_code(session, hall)
        caller.check_read(row.id)
        q = q.where(CallbackWorklist.hall_id == row.id)
    elif caller.hall_id is not None:
        q = q.where(CallbackWorklist.hall_id == caller.hall_id)
    if kind is not None:
        q = q.where(CallbackWorklist.kind == kind)
    if start is not None:
        q = q.where(CallbackWorklist.work_day >= start)
    if end is not None:
        q = q.where(CallbackWorklist.work_day <= end)
    rows = session.scalars(q.order_by(CallbackWorklist.work_day, CallbackWorklist.id))
    return {"items": [worklist_view(session, wl) for wl in rows]}


def _worklist(session: SessionDep, caller: CurrentUser, worklist_id: int) -> CallbackWorklist:
    wl = session.get(CallbackWorklist, worklist_id)
    if wl is None:
        raise HTTPException(404, f"no worklist {worklist_id}")
    caller.check_read(wl.hall_id)
    return wl


@router.get("/worklists/{worklist_id}")
def get_worklist(worklist_id: ItemId, session: SessionDep, caller: CurrentUser) -> dict[str, Any]:
    return worklist_view(session, _worklist(session, caller, worklist_id))


@router.get("/worklists/{worklist_id}/verify")
def verify(worklist_id: ItemId, session: SessionDep, caller: CurrentUser) -> dict[str, Any]:
    wl = _worklist(session, caller, worklist_id)
    res = verify_worklist(session, wl.id)
    assert res is not None
    return res
