"""GET /api/v1/devices/health (the device table, filters) and /api/v1/devices/{code}/history.

Any signed-in account; a hall-bound account sees its own hall(s) only (403 for another)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import select

from server.api.deps import PLAIN_TEXT, CurrentUser, SessionDep
from server.api.scope import hall_by_code
from server.models import (
    DEVICE_ALARMS,
    DEVICE_KINDS,
    DeviceAlert,
    DeviceHealth,
    DeviceHealthHistory,
    Hall,
)

router = APIRouter(prefix="/devices", tags=["devices"])


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _hall_ids(session: SessionDep, caller: CurrentUser, hall: str | None) -> list[int] | None:
    """The halls to show: hall= (checked against the account), else the account's, else all."""
    if hall is not None:
        row = hall_by_code(session, hall)
        caller.check_read(row.id)
        return [row.id]
    return None if caller.hall_ids is None else sorted(caller.hall_ids)


def _alert(a: DeviceAlert) -> dict[str, Any]:
    return {
        "alarm": a.alarm,
        "first_seen": _iso(a.first_seen),
        "last_seen": _iso(a.last_seen),
        "cleared_at": _iso(a.cleared_at),
    }


@router.get("/health")
def list_devices(
    session: SessionDep,
    caller: CurrentUser,
    hall: str | None = None,
    online: bool | None = None,
    kind: str | None = None,
    version: Annotated[str | None, Query(max_length=32, pattern=PLAIN_TEXT)] = None,
    alarm: str | None = None,
) -> dict[str, Any]:
    if kind is not None and kind not in DEVICE_KINDS:
        raise HTTPException(400, f"kind must be one of {', '.join(DEVICE_KINDS)}")
    if alarm is not None and alarm not in DEVICE_ALARMS:
        raise HTTPException(400, f"alarm must be one of {', '.join(DEVICE_ALARMS)}")
    halls = _hall_ids(session, caller, hall)
    q = select(DeviceHealth, Hall.code).join(Hall, Hall.id == DeviceHealth.hall_id)
    if halls is not None:
        q = q.where(DeviceHealth.hall_id.in_(halls))
    if online is not None:
        q = q.where(DeviceHealth.online.is_(online))
    if kind is not None:
        q = q.where(DeviceHealth.kind == kind)
    if version is not None:
        q = q.where(DeviceHealth.fw == version)
    rows = session.execute(q.order_by(Hall.code, DeviceHealth.code)).all()
    alerts: dict[tuple[int, str], list[dict[str, Any]]] = {}
    aq = select(DeviceAlert).where(DeviceAlert.cleared_at.is_(None))
    if halls is not None:
        aq = aq.where(DeviceAlert.hall_id.in_(halls))
    for a in session.scalars(aq.order_by(DeviceAlert.first_seen)):
        alerts.setdefault((a.hall_id, a.code), []).append(_alert(a))
    out = []
    for h, hall_code in rows:
        if alarm is not None and alarm not in h.alarms:
            continue
        out.append(
            {
                **h.snapshot,
                "hall": hall_code,
                "device": h.code,
                "online": h.online,
                "last_seen": _iso(h.last_seen),
                "at": _iso(h.at),
                "alarms": list(h.alarms),
                "alerts": alerts.get((h.hall_id, h.code), []),
            }
        )
    return {"devices": out}


@router.get("/{code}/history")
def device_history(
    code: str,
    session: SessionDep,
    caller: CurrentUser,
    hall: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    halls = _hall_ids(session, caller, hall)
    q = select(DeviceHealth, Hall.code).join(Hall, Hall.id == DeviceHealth.hall_id)
    q = q.where(DeviceHealth.code == code)
    if halls is not None:
        q = q.where(DeviceHealth.hall_id.in_(halls))
    found = session.execute(q).all()
    if not found:
        raise HTTPException(404, f"unknown device {code!r}")
    if len(found) > 1:
        raise HTTPException(400, f"device {code!r} is in several halls: give hall=")
    row, hall_code = found[0]
    hist = session.scalars(
        select(DeviceHealthHistory)
        .where(DeviceHealthHistory.hall_id == row.hall_id, DeviceHealthHistory.code == code)
        .order_by(DeviceHealthHistory.at.desc())
        .limit(limit)
    )
    alerts = session.scalars(
        select(DeviceAlert)
        .where(DeviceAlert.hall_id == row.hall_id, DeviceAlert.code == code)
        .order_by(DeviceAlert.first_seen.desc())
    )
    return {
        "hall": hall_code,
        "device": code,
        "history": [{**h.snapshot, "at": _iso(h.at)} for h in hist],
        "alerts": [_alert(a) for a in alerts],
    }
