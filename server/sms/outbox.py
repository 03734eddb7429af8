"""The durable SMS outbox (sms_messages): every state change is its own committed transaction,
so that a process killed at any instant leaves a row whose state says what may have happened
(docs/sms.md, "Outbox").

    queued ──claim──► sending ──accepted──► sent ──delivery report──► delivered | undeliverable
       ▲                 │ refused for good / attempts used up ──► failed
       └── reconcile: not at the platform after the visibility delay
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.db import begin_write
from server.models import SMS_STATES, SmsMessage, Ticket
from server.personal import scrub_phones
from server.sms.selection import Candidate

TERMINAL = ("failed", "delivered", "undeliverable")
MAX_ERROR = 256


@dataclass(frozen=True)
class Timing:
    """How the sender waits (docs/sms.md, "Settings")."""

    visibility_delay: timedelta = timedelta(seconds=120)  # until QuerySendDetails shows a send
    retry_base: timedelta = timedelta(seconds=30)  # backoff: base, 2x, 4x, ... capped
    retry_cap: timedelta = timedelta(minutes=30)
    max_attempts: int = 5

    def backoff(self, attempts: int) -> timedelta:
        return min(self.retry_cap, self.retry_base * (2 ** max(0, attempts - 1)))


def new_out_id(ticket_id: int) -> str:
    """Our correlation id (OutId / SessionContext): unique per text, letters and digits."""
    return f"hr{ticket_id}x{secrets.token_hex(6)}"


def _ticket_column(column: Any, ticket_id: int) -> Any:
    return select(column).where(Ticket.id == ticket_id).scalar_subquery()


def enqueue(session: Session, due: list[Candidate], segments: int, now: datetime) -> int:
    """Insert a queued row per candidate; a row the unique rules refuse (another sender got
    there first) is skipped. Returns how many were added."""
    added = 0
    for c in due:
        begin_write(session)
        session.add(
            SmsMessage(
                out_id=new_out_id(c.ticket_id),
                hall_id=c.hall_id,
                ticket_id=c.ticket_id,
                phone_hash=c.phone_hash,
                phone_enc=c.phone_enc,
                local_day=c.local_day,
                # The ticket's window as it is now, read in the insert itself.
                window_id=_ticket_column(Ticket.window_id, c.ticket_id),
                window_code=_ticket_column(Ticket.window_code, c.ticket_id),
                state="queued",
                attempts=0,
                segments=segments,
                created_at=now,
                next_attempt_at=now,
            )
        )
        try:
            session.commit()
            added += 1
        except IntegrityError:
            session.rollback()
    return added


def claim(
    session: Session, provider: str, limit: int, now: datetime, timing: Timing
) -> list[SmsMessage]:
    """Move up to ``limit`` due queued rows to ``sending`` (committed before any send call).
    The conditional update makes a claim exclusive between concurrent senders."""
    ids = session.scalars(
        select(SmsMessage.id)
        .where(SmsMessage.state == "queued", SmsMessage.next_attempt_at <= now)
        .order_by(SmsMessage.next_attempt_at, SmsMessage.id)
        .limit(limit)
    ).all()
    session.rollback()
    claimed: list[int] = []
    for mid in ids:
        begin_write(session)
        res = session.execute(
            update(SmsMessage)
            .where(SmsMessage.id == mid, SmsMessage.state == "queued")
            .values(
                state="sending",
                attempts=SmsMessage.attempts + 1,
                provider=provider,
                sent_at=now,
                next_attempt_at=now + timing.visibility_delay,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if getattr(res, "rowcount", 0) == 1:
            claimed.append(mid)
    if not claimed:
        return []
    rows = session.scalars(select(SmsMessage).where(SmsMessage.id.in_(claimed))).all()
    session.rollback()
    return sorted(rows, key=lambda r: claimed.index(r.id))


def set_state(
    session: Session,
    mid: int,
    state: str,
    *,
    from_states: tuple[str, ...] = ("sending",),
    **values: object,
) -> bool:
    """One committed transition; False if the row was not in ``from_states``."""
    assert state in SMS_STATES
    if isinstance(values.get("last_error"), str):  # provider errors may echo the number
        values["last_error"] = scrub_phones(str(values["last_error"]))[:MAX_ERROR]
    begin_write(session)
    res = session.execute(
        update(SmsMessage)
        .where(SmsMessage.id == mid, SmsMessage.state.in_(from_states))
        .values(state=state, **values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return getattr(res, "rowcount", 0) == 1


def in_state(
    session: Session, state: str, *, due_by: datetime | None = None, since: date | None = None
) -> list[SmsMessage]:
    q = select(SmsMessage).where(SmsMessage.state == state)
    if due_by is not None:
        q = q.where(SmsMessage.next_attempt_at <= due_by)
    if since is not None:
        q = q.where(SmsMessage.local_day >= since)
    rows = list(session.scalars(q.order_by(SmsMessage.id)).all())
    session.rollback()
    return rows


def counts_by_state(session: Session, day: date | None = None) -> dict[str, int]:
    q = select(SmsMessage.state, func.count(SmsMessage.id)).group_by(SmsMessage.state)
    if day is not None:
        q = q.where(SmsMessage.local_day == day)
    got = {state: int(n) for state, n in session.execute(q).all()}
    session.rollback()
    return {s: got.get(s, 0) for s in SMS_STATES}
