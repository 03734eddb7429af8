"""GET /api/v1/evaluations (filters, cursor pagination), PATCH to flag / exclude / un-flag, and
GET /api/v1/evaluations/{id}/history (every review and revision, oldest first)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from server.api.deps import PLAIN_TEXT, BigItemId, CurrentUser, PolicyDep, SessionDep, Writer
from server.api.scope import resolve_scope
from server.cases.autoopen import open_for_counted, record_appeal
from server.db import begin_write
from server.ingest.records import UNKNOWN_WINDOW
from server.models import Device, Evaluation, EvaluationChange, Hall, Staff, Window
from server.models.base import utcnow
from server.models.evaluations import CHANNELS, LEVELS
from server.online.one_rating import DUPLICATE
from server.review import review

router = APIRouter(prefix="/evaluations", tags=["evaluations"])

Flag = Annotated[str, Field(min_length=1, max_length=24, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class EvaluationOut(BaseModel):
    id: int
    key: str
    rev: int
    channel: str
    level: str
    occurred_at: datetime
    local_day: date
    time_source: str
    hall: str
    window: str | None
    window_code: str | None = Field(
        description="a window code the hall does not have, kept as reported (window is null)"
    )
    staff: str | None
    device: str | None
    ticket: str | None
    ticket_day: date | None = Field(
        description="the hall-local day of the ticket rated (一次一评 slot with hall and ticket)"
    )
    attribution: str
    flags: list[str]
    excluded: bool
    counted: bool
    duplicate_of: int | None = Field(
        description="一次一评: the id of the ticket's counted rating this one lost to"
    )
    late: bool = Field(description="given after the rating period, within the late limit")
    comment: str | None = Field(description="the citizen's words, phone numbers masked")
    reasons: list[str] = Field(description="差评 reasons chosen")
    review_reason: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    source: str = Field(description="set by the server: gateway:<code> or import:<file>")
    gateway_id: int | None = Field(description="the gateway whose key submitted it")


class EvaluationPage(BaseModel):
    items: list[EvaluationOut]
    next_cursor: str | None = Field(description="pass as cursor= for the next page")


class Review(BaseModel):
    reason: str = Field(
        min_length=1, max_length=512, pattern=PLAIN_TEXT, description="why (申诉复核 result etc.)"
    )
    excluded: bool | None = Field(default=None, description="exclude from counting, or restore")
    flags: list[Flag] | None = Field(default=None, max_length=8, description="replace the flags")


class ChangeOut(BaseModel):
    id: int
    at: datetime
    action: str = Field(description="review (an admin) or revision (a higher rev)")
    actor_kind: str = Field(description="user, gateway, import or service")
    actor: str = Field(description="username, or the gateway's / import's source")
    user_id: int | None
    gateway_id: int | None
    reason: str | None
    before: dict[str, Any] = Field(description="the changed fields before")
    after: dict[str, Any] = Field(description="the same fields after")


_W, _S, _D = aliased(Window), aliased(Staff), aliased(Device)


def _select() -> Any:
    return (
        select(Evaluation, Hall.code, _W.code, _S.number, _D.code)
        .join(Hall, Hall.id == Evaluation.hall_id)
        .outerjoin(_W, _W.id == Evaluation.window_id)
        .outerjoin(_S, _S.id == Evaluation.staff_id)
        .outerjoin(_D, _D.id == Evaluation.device_id)
    )


def _out(row: Any) -> EvaluationOut:
    ev, hall, window, staff, device = row
    return EvaluationOut(
        id=ev.id,
        key=ev.key,
        rev=ev.rev,
        channel=ev.channel,
        level=ev.level,
        occurred_at=ev.occurred_at,
        local_day=ev.local_day,
        time_source=ev.time_source,
        hall=hall,
        window=window,
        window_code=ev.window_code,
        staff=staff,
        device=device,
        ticket=ev.ticket,
        ticket_day=ev.ticket_day,
        attribution=ev.attribution,
        flags=ev.flags.split(",") if ev.flags else [],
        excluded=ev.excluded,
        counted=ev.counted,
        duplicate_of=ev.duplicate_of,
        late=ev.late,
        comment=ev.comment,
        reasons=ev.reasons.split(",") if ev.reasons else [],
        review_reason=ev.review_reason,
        reviewed_by=ev.reviewed_by,
        reviewed_at=ev.reviewed_at,
        source=ev.source,
        gateway_id=ev.gateway_id,
    )


def _cursor(text: str | None) -> int:
    if text is None:
        return 0
    if not text.isdigit() or len(text) > 18:
        raise HTTPException(400, "cursor must be the next_cursor of a previous page")
    return int(text)


@router.get("", response_model=EvaluationPage)
def list_evaluations(
    session: SessionDep,
    caller: CurrentUser,
    hall: Annotated[str | None, Query(max_length=64)] = None,
    window: Annotated[str | None, Query(max_length=64)] = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    staff: Annotated[str | None, Query(max_length=64)] = None,
    channel: Literal[CHANNELS] | None = None,  # type: ignore[valid-type]
    level: Literal[LEVELS] | None = None,  # type: ignore[valid-type]
    flagged: Annotated[bool | None, Query(description="has any flag")] = None,
    counted: bool | None = None,
    start: Annotated[date | None, Query(alias="from", description="hall-local day")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EvaluationPage:
    scope = resolve_scope(session, caller, hall, window, department, staff)
    f = scope.filters
    stmt = _select().where(Evaluation.id > _cursor(cursor))
    if f.hall_ids is not None:
        stmt = stmt.where(Evaluation.hall_id.in_(f.hall_ids))
    if f.window_id is not None:
        stmt = stmt.where(Evaluation.window_id == f.window_id)
    if f.department_id is not None:
        stmt = stmt.where(Evaluation.department_id == f.department_id)
    if f.staff_id is not None:
        stmt = stmt.where(Evaluation.staff_id == f.staff_id)
    if channel is not None:
        stmt = stmt.where(Evaluation.channel == channel)
    if level is not None:
        stmt = stmt.where(Evaluation.level == level)
    if flagged is not None:
        stmt = stmt.where(Evaluation.flags != "" if flagged else Evaluation.flags == "")
    if counted is not None:
        stmt = stmt.where(Evaluation.counted.is_(counted))
    if start is not None:
        stmt = stmt.where(Evaluation.local_day >= start)
    if end is not None:
        stmt = stmt.where(Evaluation.local_day <= end)
    rows = session.execute(stmt.order_by(Evaluation.id).limit(limit + 1)).all()
    items = [_out(r) for r in rows[:limit]]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    return EvaluationPage(items=items, next_cursor=next_cursor)


def _load(session: Session, caller: Any, evaluation_id: int) -> Any:
    row = session.execute(_select().where(Evaluation.id == evaluation_id)).first()
    if row is None or not caller.sees(row[0].hall_id):
        raise HTTPException(404, f"no evaluation with id {evaluation_id}")
    return row


@router.get("/{evaluation_id}", response_model=EvaluationOut)
def get_evaluation(
    session: SessionDep, caller: CurrentUser, evaluation_id: BigItemId
) -> EvaluationOut:
    return _out(_load(session, caller, evaluation_id))


@router.get("/{evaluation_id}/history", response_model=list[ChangeOut])
def evaluation_history(
    session: SessionDep, caller: CurrentUser, evaluation_id: BigItemId
) -> list[ChangeOut]:
    """Every review and attribution revision of the evaluation, oldest first (append-only)."""
    _load(session, caller, evaluation_id)
    changes = session.scalars(
        select(EvaluationChange)
        .where(EvaluationChange.evaluation_id == evaluation_id)
        .order_by(EvaluationChange.id)
    )
    return [ChangeOut.model_validate(c, from_attributes=True) for c in changes]


def check_review_role(caller: Any, ev: Evaluation, body: Review) -> None:
    """Only a city admin may make a vote count again: remove a flag (``misuse`` etc.) or restore
    an excluded evaluation. Hall admins may add flags and exclude."""
    if caller.role == "city_admin":
        return
    # unknown_window follows the attribution, and 一次一评's duplicate_ticket on a rating that
    # lost the resolution (server/review.py): leaving them out removes nothing.
    servers = {UNKNOWN_WINDOW, DUPLICATE} if ev.duplicate_of is not None else {UNKNOWN_WINDOW}
    removed = (
        set()
        if body.flags is None
        else set(filter(None, ev.flags.split(","))) - set(body.flags) - servers
    )
    if removed:
        raise HTTPException(
            403, f"only a city admin may remove flags ({', '.join(sorted(removed))})"
        )
    if body.excluded is False and ev.excluded:
        raise HTTPException(403, "only a city admin may restore an excluded evaluation")


@router.patch("/{evaluation_id}", response_model=EvaluationOut)
def review_evaluation(
    session: SessionDep, caller: Writer, evaluation_id: BigItemId, body: Review, policy: PolicyDep
) -> EvaluationOut:
    """Exclude / restore, or replace the flags, with a reason. Rows are never deleted."""
    if body.excluded is None and body.flags is None:
        raise HTTPException(422, "give excluded and/or flags")
    reason = body.reason.strip()
    if not reason:
        raise HTTPException(422, "reason must not be blank")
    begin_write(session)
    row = _load(session, caller, evaluation_id)
    caller.check_write(row[0].hall_id)
    check_review_role(caller, row[0], body)
    counted_now: set[int] = set()
    review(
        session,
        row[0],
        reason=reason,
        by=caller.username,
        excluded=body.excluded,
        flags=body.flags,
        user_id=caller.user_id,
        one_rating=policy.one_rating,
        became_counted=counted_now,
        tz=policy.timezone,
    )
    # 申诉复核 of a 差评: recorded on its bad_rating case (opened with origin "appeal" if it has
    # none); a 差评 the review made count, here or by 一次一评, opens its case (docs/cases.md).
    now = utcnow()
    record_appeal(
        session,
        policy,
        row[0],
        actor=caller.username,
        actor_role=caller.role,
        reason=reason,
        now=now,
    )
    open_for_counted(session, policy, ids=counted_now, now=now)
    session.commit()
    return _out(row)
