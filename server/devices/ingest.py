"""POST /api/v1/ingest/devices: a gateway's device-health snapshots (gateway API key).

Idempotent: a snapshot is keyed by (hall, device, at); a push the gateway retries is stored
once. The latest row only moves forward in time; alerts open on the first snapshot with an
alarm and close (cleared_at) on the first later one without it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.api.deps import PLAIN_TEXT, GatewayDep, SessionDep
from server.api.scope import hall_by_code
from server.db import begin_write
from server.models import DeviceAlert, DeviceHealth, DeviceHealthHistory

router = APIRouter(prefix="/ingest", tags=["ingest"])

MAX_DEVICES = 500
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
Alarm = Literal["jam", "tamper", "lid_open", "low_heap", "rolled_back", "self_test", "offline"]
# Free text: no control characters (PostgreSQL refuses NUL in text).
Short = Annotated[str, Field(max_length=64, pattern=PLAIN_TEXT)]
# 2020-01-01 .. 2100-01-01: an epoch outside is a broken clock, not a snapshot time.
Epoch = Annotated[float, Field(ge=1577836800, lt=4102444800)]


class Snapshot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str
    kind: Literal["evaluator", "ballot_box"] | None = None
    window: Annotated[str, Field(max_length=16, pattern=PLAIN_TEXT)] | None = None
    online: bool
    fw: Annotated[str, Field(max_length=32, pattern=PLAIN_TEXT)] | None = None
    slot: Annotated[str, Field(max_length=8, pattern=PLAIN_TEXT)] | None = None
    probation: bool | None = None
    reset_cause: Annotated[str, Field(max_length=16, pattern=PLAIN_TEXT)] | None = None
    boots: Annotated[int, Field(ge=0)] | None = None
    uptime_s: Annotated[int, Field(ge=0)] | None = None
    heap: Annotated[int, Field(ge=0)] | None = None
    largest_free: Annotated[int, Field(ge=0)] | None = None
    rssi: Annotated[int, Field(ge=-127, le=0)] | None = None
    outbox: Annotated[int, Field(ge=0)] | None = None
    outbox_oldest_s: Annotated[int, Field(ge=0)] | None = None
    overflow: Annotated[int, Field(ge=0)] | None = None
    rolled_back: Short | None = None
    fatal: Short | None = None
    self_test: Annotated[str, Field(max_length=48, pattern=PLAIN_TEXT)] | None = None
    last_seen: Epoch | None = None
    alarms: list[Alarm] = Field(default_factory=list, max_length=7)

    @field_validator("device")
    @classmethod
    def _code(cls, v: str) -> str:
        if not _CODE.match(v):
            raise ValueError("device must be 1-32 of A-Z a-z 0-9 _ . - (a device id)")
        return v


class HealthBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gateway: Annotated[str, Field(max_length=64, pattern=PLAIN_TEXT)] | None = None
    at: Epoch
    devices: list[Snapshot] = Field(max_length=MAX_DEVICES)


class HealthOut(BaseModel):
    accepted: int
    duplicates: int


def _utc(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


@router.post("/devices", response_model=HealthOut)
def devices(batch: HealthBatch, gw: GatewayDep, session: SessionDep) -> dict[str, Any]:
    hall_id = hall_by_code(session, gw.hall_code).id
    at = _utc(batch.at)
    # A retry racing its first copy (PostgreSQL has no write lock): the loser finds the
    # winner's rows on its second try and counts them as duplicates.
    for attempt in range(2):
        try:
            begin_write(session)
            accepted = duplicates = 0
            for snap in batch.devices:
                if store_snapshot(session, hall_id, at, snap):
                    accepted += 1
                else:
                    duplicates += 1
            session.commit()
            return {"accepted": accepted, "duplicates": duplicates}
        except IntegrityError:
            session.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


def store_snapshot(session: Session, hall_id: int, at: dt.datetime, snap: Snapshot) -> bool:
    """Store one snapshot; False when (hall, device, at) was stored before (a retry)."""
    code = snap.device
    body = snap.model_dump()
    seen = session.scalar(
        select(DeviceHealthHistory.id).where(
            DeviceHealthHistory.hall_id == hall_id,
            DeviceHealthHistory.code == code,
            DeviceHealthHistory.at == at,
        )
    )
    if seen is not None:
        return False
    session.add(DeviceHealthHistory(hall_id=hall_id, code=code, at=at, snapshot=body))
    row = session.scalars(
        select(DeviceHealth).where(DeviceHealth.hall_id == hall_id, DeviceHealth.code == code)
    ).first()
    if row is None:
        row = DeviceHealth(hall_id=hall_id, code=code, at=at)
        session.add(row)
    elif row.at > at:
        _alerts(session, hall_id, code, at, snap.alarms, latest=False)
        return True  # an older snapshot arriving late: history only
    row.kind = snap.kind
    row.window = snap.window
    row.online = snap.online
    row.fw = snap.fw
    row.at = at
    row.last_seen = None if snap.last_seen is None else _utc(snap.last_seen)
    row.snapshot = body
    row.alarms = list(snap.alarms)
    _alerts(session, hall_id, code, at, snap.alarms, latest=True)
    return True


def _alerts(
    session: Session,
    hall_id: int,
    code: str,
    at: dt.datetime,
    alarms: Sequence[str],
    latest: bool,
) -> None:
    open_ = {
        a.alarm: a
        for a in session.scalars(
            select(DeviceAlert).where(
                DeviceAlert.hall_id == hall_id,
                DeviceAlert.code == code,
                DeviceAlert.cleared_at.is_(None),
            )
        )
    }
    for name in alarms:
        a = open_.get(name)
        if a is None:
            if latest:
                session.add(
                    DeviceAlert(hall_id=hall_id, code=code, alarm=name, first_seen=at, last_seen=at)
                )
        else:
            a.first_seen = min(a.first_seen, at)
            a.last_seen = max(a.last_seen, at)
    if latest:
        for name, a in open_.items():
            if name not in alarms and a.last_seen <= at:
                a.cleared_at = at
