"""`hallrate db purge-personal-data`: delete citizens' phone numbers past their retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.db import begin_write
from server.models import Ticket


@dataclass(frozen=True)
class PurgeResult:
    before: date
    purged: int  # tickets whose phone ciphertext and hash were deleted
    kept: int  # tickets on or after ``before`` that still have a phone number


def default_before(retention_days: int, tz: str, now: datetime | None = None) -> date:
    """The first day still kept: today (in ``tz``) minus the retention."""
    today = (now or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz)).date()
    return today - timedelta(days=retention_days)


def purge_phones(session: Session, before: date, dry_run: bool = False) -> PurgeResult:
    """Delete the phone ciphertext and hash of every ticket of a hall-local day before
    ``before``; the tickets themselves stay. One transaction; idempotent."""
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
    if purged and not dry_run:
        stmt = update(Ticket).where(old).values(phone_enc=None, phone_hash=None)
        session.execute(stmt.execution_options(synchronize_session=False))
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return PurgeResult(before, int(purged), int(kept))
