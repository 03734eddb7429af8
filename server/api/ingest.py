"""POST /api/v1/ingest/{evaluations,tickets}: idempotent batches from gateways (API key auth)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.api.deps import GatewayDep, PolicyDep, SessionDep, SettingsDep
from server.api.fast_json import FastJSONRoute
from server.db import begin_write
from server.ingest import (
    MAX_BATCH,
    IngestResult,
    Submitter,
    check_evaluations,
    check_tickets,
    store_evaluations,
    store_tickets,
)
from server.policy import Policy

router = APIRouter(prefix="/ingest", tags=["ingest"], route_class=FastJSONRoute)


class Batch(BaseModel):
    gateway: str | None = Field(default=None, max_length=64)
    # Records are checked one by one by the ingest service so that one bad record is
    # rejected with its reason while the others land; see docs/api.md for their fields.
    records: list[Any] = Field(max_length=MAX_BATCH)


class RejectionOut(BaseModel):
    index: int
    key: str | None
    reason: str


class IngestOut(BaseModel):
    accepted: int
    updated: int
    duplicates: int
    rejected: list[RejectionOut]


def _store(
    session: Session, store: Any, checked: Any, result: IngestResult, policy: Policy
) -> IngestResult:
    # Two writers may race to auto-create the same window; the loser retries once and then
    # finds the winner's row. The records were checked before the write lock was taken.
    rejected = list(result.rejected)
    for attempt in range(2):
        try:
            begin_write(session)
            result.rejected = list(rejected)
            result.accepted = result.updated = result.duplicates = 0
            out: IngestResult = store(
                session, checked, result, tz=policy.timezone, rules=policy.directory
            )
            session.commit()
            return out
        except IntegrityError:
            session.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


@router.post("/evaluations", response_model=IngestOut)
def evaluations(
    batch: Batch, gw: GatewayDep, session: SessionDep, policy: PolicyDep
) -> dict[str, Any]:
    # Channel authority: a gateway key submits device channels only; the server sets source.
    submitter = Submitter.gateway(gw.id, gw.code)
    checked, result = check_evaluations(batch.records, submitter, hall=gw.hall_code)
    store = partial(store_evaluations, one_rating=policy.one_rating, policy=policy)
    return _store(session, store, checked, result, policy).to_dict()


@router.post("/tickets", response_model=IngestOut)
def tickets(
    batch: Batch, gw: GatewayDep, session: SessionDep, policy: PolicyDep, settings: SettingsDep
) -> dict[str, Any]:
    source = Submitter.gateway(gw.id, gw.code).source
    checked, result = check_tickets(batch.records, source, hall=gw.hall_code)
    checked = [(i, replace(t, source=source)) for i, t in checked]  # never the client's
    store = partial(store_tickets, cipher=settings.phone_cipher)  # phones: encrypted + hashed
    return _store(session, store, checked, result, policy).to_dict()
