"""`hallrate db purge-personal-data`: delete citizens' phone numbers past their retention, on
tickets, SMS texts (sms_messages), SMS replies (sms_replies) and closed cases (cases); the rows
stay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, func, literal, select, update
from sqlalchemy.orm import Session

from server.db import begin_write
from server.models import Case, SmsMessage, SmsReply, Ticket

# What a purged SMS row's phone_hash becomes: unique per row (sms_messages keeps its unique
# (phone_hash, local_day)), never a hash of anything.
PURGED = "purged:"


@dataclass(frozen=True)
class PurgeResult:
    before: date
    purged: int  # tickets whose phone ciphertext and hash were deleted
    kept: int  # tickets on or after ``before`` that still have a phone number
    sms_texts: int = 0  # SMS texts (hall-local day before ``before``) whose phone was deleted
    sms_replies: int = 0  # SMS replies (received before ``before``) whose phone hash was deleted
    cases: int = 0  # cases closed (hall-local day) before ``before`` whose phone was deleted
    open_cases: int = 0  # cases still open that keep their phone (needed for the call-back)


def default_before(retention_days: int, tz: str, now: datetime | None = None) -> date:
    """The first day still kept: today (in ``tz``) minus the retention."""
    today = (now or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz)).date()
    return today - timedelta(days=retention_days)


def _placeholder(row_id: Any) -> Any:
    return literal(PURGED).concat(cast(row_id, String))


def purge_phones(
    session: Session, before: date, dry_run: bool = False, tz: str = "Asia/Shanghai"
) -> PurgeResult:
    """Delete the phone ciphertext and hash of every ticket and SMS text of a hall-local day
    before ``before``, and the phone hash of every SMS reply received before that day began
    in ``tz``, and of every case closed on a hall-local day before ``before`` (open cases keep
    theirs: the call-back needs it); the rows themselves stay. One transaction; idempotent.
    The opt-out list keeps its hashes: a 退订 is honoured for good."""
    has_phone = (Ticket.phone_enc.is_not(None)) | (Ticket.phone_hash.is_not(None))
    old = has_phone & (Ticket.local_day < before)
    begin_write(session)
    purged = session.scalar(select(func.count()).select_from(Ticket).where(old)) or 0
    kept = (
        session.scalar(
            select(func.count()).select_from(Ticket).where(has_phone, Ticket.local_day >= before)
        )
        or 0
    )
    old_text = (SmsMessage.local_day < before) & (
        SmsMessage.phone_enc.is_not(None) | ~SmsMessage.phone_hash.startswith(PURGED)
    )
    cutoff = datetime.combine(before, time(), ZoneInfo(tz))
    old_reply = (SmsReply.received_at < cutoff) & ~SmsReply.phone_hash.startswith(PURGED)
    texts = session.scalar(select(func.count()).select_from(SmsMessage).where(old_text)) or 0
    case_phone = Case.phone_enc.is_not(None) | Case.phone_hash.is_not(None)
    old_case = case_phone & (Case.state == "closed") & (Case.closed_day < before)
    cases = session.scalar(select(func.count()).select_from(Case).where(old_case)) or 0
    open_cases = (
        session.scalar(
            select(func.count()).select_from(Case).where(case_phone, Case.state != "closed")
        )
        or 0
    )
    replies = session.scalar(select(func.count()).select_from(SmsReply).where(old_reply)) or 0
    if not dry_run:
        updates: list[Any] = [
            update(Ticket).where(old).values(phone_enc=None, phone_hash=None),
            update(SmsMessage)
            .where(old_text)
            .values(phone_enc=None, phone_hash=_placeholder(SmsMessage.id)),
            update(SmsReply).where(old_reply).values(phone_hash=_placeholder(SmsReply.id)),
            update(Case).where(old_case).values(phone_enc=None, phone_hash=None),
        ]
        for stmt in updates:
            session.execute(stmt.execution_options(synchronize_session=False))
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return PurgeResult(
        before, int(purged), int(kept), int(texts), int(replies), int(cases), int(open_cases)
    )
