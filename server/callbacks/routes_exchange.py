"""A worklist as XLSX and the results back (server/callbacks/exchange.py; docs/phone-callbacks.md
"Export and import"):

GET  /api/v1/callbacks/worklists/{id}/export.xlsx  any role that sees the hall; numbers unmasked
                                                   (and audited) for agent and city_admin only
POST /api/v1/callbacks/results                     the filled sheet (XLSX or CSV body); admins
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from server.api.deps import CurrentUser, ItemId, PolicyDep, SessionDep, SettingsDep, Writer
from server.callbacks.exchange import ImportRejected, Reader, export_xlsx, import_results
from server.models import PHONE_ROLES, CallbackWorklist

router = APIRouter(prefix="/callbacks", tags=["phone call-backs"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/worklists/{worklist_id}/export.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "the worklist as a sheet"}},
)
def export_worklist(
    worklist_id: ItemId,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    caller: CurrentUser,
) -> Response:
    """One row per entry; 手机号 unmasked for agent and city_admin (one audit row per number,
    purpose "export worklist <id>"), masked for every other role."""
    wl = session.get(CallbackWorklist, worklist_id)
    if wl is None:
        raise HTTPException(404, f"worklist {worklist_id} does not exist")
    caller.check_read(wl.hall_id)
    reader = None
    if caller.role in PHONE_ROLES:
        reader = Reader(caller.user_id, caller.username, caller.role)
    _, data = export_xlsx(session, worklist_id, settings.phone_cipher, policy, reader)
    return Response(
        data,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="worklist-{worklist_id}.xlsx"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/results")
async def import_worklist_results(
    request: Request, policy: PolicyDep, caller: Writer
) -> dict[str, Any]:
    """The filled sheet as the request body (XLSX or CSV): every row recorded, or none."""
    data = await request.body()
    run = partial(
        import_results,
        request.app.state.engine,
        data,
        policy,
        user_id=caller.user_id,
        username=caller.username,
        hall_ids=None if caller.hall_id is None else (caller.hall_id,),
    )
    try:
        summary = await run_in_threadpool(run)
    except ImportRejected as exc:
        raise HTTPException(400 if exc.file_problem else 422, exc.text()) from None
    return summary.to_dict()
