"""SMS reply routes (docs/sms.md "Replies", docs/api.md):

POST /api/v1/sms/replies/{provider}  a platform's reply push (aliyun | local: Alibaba Cloud SmsUp
                                     shape; tencent: Tencent Cloud reply callback shape),
                                     authenticated by HALLRATE_SMS_CALLBACK_TOKEN; idempotent
GET  /api/v1/sms/replies             stored replies for follow-up (outcome=not_a_rating …),
                                     phones masked
GET  /api/v1/sms/stats               sent / delivered / replied / reply rates per day, window
                                     or hall (server/sms/stats.py); no phone data
"""

from __future__ import annotations

import hmac
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import aliased

from server.api.deps import CurrentUser, PolicyDep, SessionDep, SettingsDep
from server.api.scope import describe_period, hall_by_code, resolve_period, resolve_scope
from server.models import Hall, SmsMessage, SmsReply, Ticket, Window
from server.personal import phone_digits
from server.policy import Policy
from server.sms.intake import hashed_dedupe_key, store_replies
from server.sms.matching import OUTCOMES, Outcome
from server.sms.provider import Reply
from server.sms.replies import parse_reply
from server.sms.stats import By, stats

router = APIRouter(prefix="/sms", tags=["sms"])

PUSH_PROVIDERS = ("aliyun", "local", "tencent")
MAX_PUSH_ITEMS = 50
MAX_REPLY_CHARS = 1000
# Alibaba Cloud's send_time (and Tencent's text times) are Beijing time, whatever the hall's zone.
PLATFORM_TZ = ZoneInfo("Asia/Shanghai")
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
ALIYUN_OK = {"code": 0, "msg": "成功"}
TENCENT_OK = {"result": 0, "errmsg": "OK"}


class PushProblem(ValueError):
    pass


def _check_token(request: Request, expected: str) -> None:
    if not expected:
        raise HTTPException(403, "reply push is off: HALLRATE_SMS_CALLBACK_TOKEN is not set")
    given = request.query_params.get("token", "")
    header = request.headers.get("authorization", "")
    if not given and header.lower().startswith("bearer "):
        given = header[7:].strip()
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, "missing or wrong SMS callback token")


def _items(payload: Any) -> list[dict[str, Any]]:
    items = payload if isinstance(payload, list) else [payload]
    if not items or len(items) > MAX_PUSH_ITEMS:
        raise PushProblem(f"a push holds 1..{MAX_PUSH_ITEMS} replies")
    if not all(isinstance(item, dict) for item in items):
        raise PushProblem("each reply must be a JSON object")
    return items


def _text(item: dict[str, Any], name: str, index: int) -> str:
    value = item.get(name)
    if not isinstance(value, str) or len(value) > MAX_REPLY_CHARS or "\x00" in value:
        raise PushProblem(f"reply {index}: {name} must be a string of at most 1000 characters")
    return value


def _phone(value: Any, index: int) -> str:
    digits = phone_digits(str(value)) if isinstance(value, str | int) else ""
    if not 5 <= len(digits) <= 15:
        raise PushProblem(f"reply {index}: not a phone number")
    return digits


def _aliyun(items: list[dict[str, Any]], provider: str) -> list[Reply]:
    """SmsUp: phone_number, send_time ("2026-11-23 18:02:11", Beijing time), content,
    sequence_id (the dedupe key when present), sign_name, dest_code."""
    replies = []
    for i, item in enumerate(items):
        phone = _phone(item.get("phone_number"), i)
        content = _text(item, "content", i)
        try:
            at = datetime.strptime(_text(item, "send_time", i), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise PushProblem(f"reply {i}: send_time must be YYYY-MM-DD HH:MM:SS") from None
        received = at.replace(tzinfo=PLATFORM_TZ)
        seq = item.get("sequence_id")
        if isinstance(seq, int | str) and not isinstance(seq, bool) and str(seq).strip():
            key = f"seq:{str(seq).strip()[:100]}"
        else:
            key = hashed_dedupe_key(phone, received, content)
        replies.append(Reply(phone, content, received, key, provider))
    return replies


def _tencent(items: list[dict[str, Any]], provider: str) -> list[Reply]:
    """Reply callback: mobile, nationcode, text, time (Unix seconds), sign, extend."""
    replies = []
    for i, item in enumerate(items):
        phone = _phone(item.get("mobile"), i)
        text = _text(item, "text", i)
        stamp = item.get("time")
        if not isinstance(stamp, int) or isinstance(stamp, bool) or not 0 < stamp < 2**32:
            raise PushProblem(f"reply {i}: time must be Unix seconds")
        received = datetime.fromtimestamp(stamp, UTC)
        replies.append(
            Reply(phone, text, received, hashed_dedupe_key(phone, received, text), provider)
        )
    return replies


@router.post("/replies/{provider}")
def push_replies(
    provider: Literal["aliyun", "local", "tencent"],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    payload: Annotated[Any, Body()],
) -> dict[str, Any]:
    _check_token(request, settings.sms_callback_token.get_secret_value())
    try:
        items = _items(payload)
        # The local platform speaks the Alibaba Cloud API: its replies are stored as "aliyun",
        # so a reply both pulled (AliyunSms.replies) and pushed here dedupes on one key.
        stored_as = "aliyun" if provider == "local" else provider
        replies = _tencent(items, stored_as) if provider == "tencent" else _aliyun(items, stored_as)
    except PushProblem as exc:
        raise HTTPException(400, str(exc)) from exc
    store_replies(session, replies, settings.phone_cipher, policy)
    return dict(TENCENT_OK if provider == "tencent" else ALIYUN_OK)


class ReplyOut(BaseModel):
    id: int
    provider: str
    received_at: datetime
    outcome: str = Field(description=" | ".join(OUTCOMES))
    level: str | None = Field(description="the level the text means (rated, duplicate, late)")
    reason: str | None = Field(description="why the text is not a rating (not_a_rating)")
    text: str = Field(description="the reply as sent, phone numbers in it masked")
    phone: str | None = Field(description="masked (138****0001), from the matched text")
    hall: str | None
    ticket_id: int | None = Field(description="GET /tickets/{id}/phone (agent, audited)")
    ticket: str | None
    window: str | None
    out_id: str | None = Field(description="the correlation id of the matched text")
    evaluation_key: str | None


class ReplyPage(BaseModel):
    items: list[ReplyOut]
    next_cursor: str | None = Field(description="pass as cursor= for the next page")


def _reason(row: SmsReply, policy: Policy) -> str | None:
    if row.outcome != "not_a_rating":
        return None
    return parse_reply(row.text, policy).reason or None


@router.get("/replies", response_model=ReplyPage)
def list_replies(
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    caller: CurrentUser,
    outcome: Annotated[Outcome | None, Query()] = None,
    hall: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[date | None, Query(alias="from", description="day, HALLRATE_TZ")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ReplyPage:
    if cursor is not None and (not cursor.isdigit() or len(cursor) > 18):
        raise HTTPException(400, "cursor must be the next_cursor of a previous page")
    msg, win = aliased(SmsMessage), aliased(Window)
    stmt: Any = (
        select(SmsReply, msg, Hall.code, Ticket.number, Ticket.window_code, win.code)
        .outerjoin(msg, msg.id == SmsReply.message_id)
        .outerjoin(Hall, Hall.id == msg.hall_id)
        .outerjoin(Ticket, Ticket.id == msg.ticket_id)
        .outerjoin(win, win.id == Ticket.window_id)
        .where(SmsReply.id > int(cursor or 0))
    )
    if hall is not None:
        row = hall_by_code(session, hall)
        caller.check_read(row.id)
        stmt = stmt.where(msg.hall_id == row.id)
    elif caller.hall_ids is not None:
        # A hall's account sees its halls' replies; unmatched ones (no hall) city-wide only.
        stmt = stmt.where(msg.hall_id.in_(caller.hall_ids))
    if outcome is not None:
        stmt = stmt.where(SmsReply.outcome == outcome)
    zone = ZoneInfo(settings.tz)
    for day in (start, end):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise HTTPException(400, f"from and to must be days in {FIRST_DAY}..{LAST_DAY}")
    if start is not None:
        stmt = stmt.where(SmsReply.received_at >= datetime.combine(start, time(), zone))
    if end is not None:
        after = datetime.combine(end + timedelta(days=1), time(), zone)
        stmt = stmt.where(SmsReply.received_at < after)
    rows = session.execute(stmt.order_by(SmsReply.id).limit(limit + 1)).all()
    cipher = settings.phone_cipher
    items = [
        ReplyOut(
            id=r.id,
            provider=r.provider,
            received_at=r.received_at,
            outcome=r.outcome,
            level=r.level,
            reason=_reason(r, policy),
            text=r.text,
            phone=cipher.masked(m.phone_enc) if m is not None else None,
            hall=hall_code,
            ticket_id=m.ticket_id if m is not None else None,
            ticket=number,
            window=window_code or code,
            out_id=m.out_id if m is not None else None,
            evaluation_key=r.evaluation_key,
        )
        for r, m, hall_code, number, window_code, code in rows[:limit]
    ]
    return ReplyPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


@router.get("/stats")
def sms_stats(
    session: SessionDep,
    policy: PolicyDep,
    caller: CurrentUser,
    hall: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[str | None, Query(max_length=32, examples=["2026Q4"])] = None,
    start: Annotated[date | None, Query(alias="from", description="hall-local day")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
    by: Annotated[By, Query()] = "day",
) -> dict[str, Any]:
    """The SMS channel's figures of texts whose ticket's hall-local day is in the period, in
    total and per day, window or hall (docs/sms.md "Operations")."""
    p = resolve_period(period, start, end, policy.timezone)
    scope = resolve_scope(session, caller, hall)
    total, buckets = stats(session, p.start, p.end, scope.hall.id if scope.hall else None, by)
    items = []
    for b in buckets:
        key: dict[str, Any] = (
            {"day": b.day.isoformat() if b.day else None}
            if by == "day"
            else {"hall": b.hall} | ({"window": b.window} if by == "window" else {})
        )
        items.append(key | b.figures.to_dict(policy))
    return {
        "scope": {"hall": scope.hall.code if scope.hall else None},
        "period": describe_period(p),
        "by": by,
        "total": total.to_dict(policy),
        "items": items,
    }
