"""One call attempt on a call-back entry (docs/phone-callbacks.md "Calls").

``record_attempt`` is shared by the agents' API (server/callbacks/routes_calls.py) and the
results import; it knows nothing of HTTP. It checks the attempt, stores it once per
``attempt_key`` (a retried submission returns the stored attempt), moves the entry (completed,
closed, or open with its next call), turns a completed call into one ``phone`` evaluation through
ingest (and, on a 差评 entry, the call-back of its bad_rating case: server/callbacks/case_link.py),
records an opt-out, and opens a reserve when a planned entry ends without 有效. It commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.calendar import WorkingDays
from server.callbacks.case_link import CaseError, record_case_callback
from server.callbacks.dispositions import DISPOSITION_CODES, DISPOSITIONS
from server.callbacks.policy import CallbackPolicy
from server.callbacks.retry import inside_call_hours, next_call_at
from server.db import begin_write
from server.ingest import Submitter, ingest_evaluations
from server.ingest.ticket_fields import ticket_record_fields
from server.models import (
    LEVELS,
    CallbackAttempt,
    CallbackEntry,
    CallbackOptOut,
    Hall,
    Ticket,
)
from server.personal import scrub_phones
from server.policy import Policy

ATTEMPT_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_COMMENT = 500
# A citizen (or whoever answered the number) was reached: only then can they ask not to be
# called again.
CONTACTED = ("completed", "refused", "other", "wrong_person", "already_called")
# How far ahead an agent may set the next call, and how far an attempt's time may lie ahead of
# the server's clock.
MAX_NEXT_CALL = timedelta(days=92)
CLOCK_SKEW = timedelta(minutes=5)


class CallbackError(Exception):
    """An attempt that cannot be recorded: ``status`` is the HTTP status the API answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class AttemptIn:
    attempt_key: str
    disposition: str
    level: str | None = None
    reasons: tuple[str, ...] = ()
    comment: str = ""
    next_call_at: datetime | None = None
    opt_out: bool = False
    at: datetime | None = None  # when the call was made; default: now


@dataclass
class AttemptResult:
    entry: CallbackEntry
    attempt: CallbackAttempt
    created: bool  # False: the attempt_key was already stored (a retried submission)
    evaluation_key: str | None


def check_attempt(attempt: AttemptIn, policy: CallbackPolicy) -> None:
    """The checks that need no database; raises CallbackError(422, reason)."""
    if not isinstance(attempt.attempt_key, str) or not ATTEMPT_KEY.match(attempt.attempt_key):
        raise CallbackError(422, "attempt_key must be 1..64 characters of A-Z a-z 0-9 _ . : -")
    code = attempt.disposition
    if code not in DISPOSITIONS:
        raise CallbackError(
            422, f"unknown disposition {code!r}; codes are {', '.join(DISPOSITION_CODES)}"
        )
    if code == "completed":
        if attempt.level not in LEVELS:
            raise CallbackError(422, f"a completed call needs level, one of {', '.join(LEVELS)}")
    elif attempt.level is not None:
        raise CallbackError(422, f"level is only for a completed call, not {code}")
    unknown = [r for r in attempt.reasons if r not in policy.dissatisfied_reasons]
    if unknown:
        raise CallbackError(
            422,
            f"unknown reason {unknown[0]!r}; reasons are " + ", ".join(policy.dissatisfied_reasons),
        )
    if len(attempt.comment) > MAX_COMMENT or "\x00" in attempt.comment:
        raise CallbackError(422, f"comment must be at most {MAX_COMMENT} characters")
    final = DISPOSITIONS[code].final
    if attempt.next_call_at is not None:
        if final:
            raise CallbackError(
                422, f"next_call_at is only for a retry disposition, not the final {code}"
            )
        if attempt.next_call_at.tzinfo is None:
            raise CallbackError(422, "next_call_at needs a UTC offset")
    if attempt.opt_out and code not in CONTACTED:
        raise CallbackError(
            422, f"opt_out needs a contacted disposition ({', '.join(CONTACTED)}), not {code}"
        )
    if attempt.at is not None and attempt.at.tzinfo is None:
        raise CallbackError(422, "at needs a UTC offset")


def record_attempt(
    session: Session,
    entry_id: int,
    attempt: AttemptIn,
    *,
    user_id: int | None,
    username: str,
    via: Literal["agent", "import"],
    policy: Policy,
    now: datetime,
    working_days: WorkingDays | None = None,
) -> AttemptResult:
    """Record one attempt on entry ``entry_id`` and commit; see the module docstring.

    Raises CallbackError: 422 (a bad attempt), 404 (no such entry), 409 (the entry is not open,
    or its evaluation cannot be stored). Nothing is changed when it raises. Two submissions of
    one ``attempt_key`` at once store one attempt: the loser re-reads the winner's.
    """
    check_attempt(attempt, policy.callbacks)
    days = working_days or WorkingDays.from_policy(policy)
    for round_ in (1, 2):
        begin_write(session)
        try:
            result = _record(session, entry_id, attempt, user_id, username, via, policy, now, days)
            session.commit()
            return result
        except CallbackError:
            session.rollback()
            raise
        except IntegrityError:
            session.rollback()
            if round_ == 2:
                raise
    raise AssertionError("unreachable")


def _locked_entry(session: Session, entry_id: int) -> CallbackEntry | None:
    stmt = select(CallbackEntry).where(CallbackEntry.id == entry_id)
    if session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()  # a second submission waits, then sees the first
    return session.scalars(stmt.execution_options(populate_existing=True)).first()


def _record(
    session: Session,
    entry_id: int,
    attempt: AttemptIn,
    user_id: int | None,
    username: str,
    via: str,
    policy: Policy,
    now: datetime,
    days: WorkingDays,
) -> AttemptResult:
    entry = _locked_entry(session, entry_id)
    if entry is None:
        raise CallbackError(404, f"call-back entry {entry_id} does not exist")
    stored = session.scalar(
        select(CallbackAttempt).where(
            CallbackAttempt.entry_id == entry.id,
            CallbackAttempt.attempt_key == attempt.attempt_key,
        )
    )
    if stored is not None:
        return AttemptResult(entry, stored, False, entry.evaluation_key)
    _check_open(entry)
    cb = policy.callbacks
    at = attempt.at or now
    if at > now + CLOCK_SKEW:
        raise CallbackError(422, "at lies in the future")
    if attempt.next_call_at is not None:
        _check_next_call(attempt.next_call_at, at, policy, days)
    row = CallbackAttempt(
        entry_id=entry.id,
        attempt_key=attempt.attempt_key,
        at=at,
        user_id=user_id,
        username=username,
        via=via,
        disposition=attempt.disposition,
        level=attempt.level,
        reasons=",".join(dict.fromkeys(attempt.reasons)),
        comment=scrub_phones(attempt.comment)[:MAX_COMMENT],
        next_call_at=None,
    )
    session.add(row)
    session.flush()  # a concurrent twin's key clashes here (IntegrityError: retried)
    earlier = list(
        session.scalars(
            select(CallbackAttempt.at).where(
                CallbackAttempt.entry_id == entry.id, CallbackAttempt.id != row.id
            )
        )
    )
    entry.attempts += 1
    entry.disposition = attempt.disposition
    entry.updated_at = now
    entry.next_call_at = None
    if attempt.disposition == "completed":
        entry.state = "completed"
        entry.evaluation_key = _ingest(session, entry, row, username, policy)
        try:  # a 差评 entry: the call closes its case's 回访 step (server/callbacks/case_link.py)
            record_case_callback(session, policy, entry, row)
        except CaseError as exc:
            raise CallbackError(409, f"the case call-back was refused: {exc}") from None
    elif (
        DISPOSITIONS[attempt.disposition].final
        or attempt.opt_out
        or entry.attempts >= cb.max_attempts
    ):
        entry.state = "closed"
    else:
        entry.next_call_at = attempt.next_call_at or next_call_at(
            at,
            earlier,
            spans=cb.hours,
            retry_after_minutes=cb.retry_after_minutes,
            zone=policy.tzinfo,
            is_working_day=days.is_working_day,
        )
        row.next_call_at = entry.next_call_at
    if attempt.opt_out:
        _opt_out(session, entry.phone_hash, row.id)
    if entry.state == "closed":
        _activate_reserve(session, entry, cb)
    session.flush()
    return AttemptResult(entry, row, True, entry.evaluation_key)


def _check_open(entry: CallbackEntry) -> None:
    if entry.state == "open":
        return
    if entry.state == "completed":
        raise CallbackError(
            409,
            f"entry {entry.id} is already completed (有效) as evaluation {entry.evaluation_key}: "
            "correct it through the review API (PATCH /api/v1/evaluations/{id}), "
            "not with another attempt",
        )
    if entry.state == "reserve":
        raise CallbackError(409, f"entry {entry.id} is a reserve that is not in use (not open)")
    raise CallbackError(409, f"entry {entry.id} is {entry.state}, not open: no more attempts")


def _check_next_call(value: datetime, at: datetime, policy: Policy, days: WorkingDays) -> None:
    cb = policy.callbacks
    if not at < value <= at + MAX_NEXT_CALL:
        raise CallbackError(
            422, f"next_call_at must be after the call and within {MAX_NEXT_CALL.days} days"
        )
    if not inside_call_hours(value, cb.hours, policy.tzinfo, days.is_working_day):
        raise CallbackError(
            422,
            f"next_call_at must be on a working day within call_hours {cb.call_hours} "
            f"({policy.timezone})",
        )


def _ingest(
    session: Session, entry: CallbackEntry, row: CallbackAttempt, username: str, policy: Policy
) -> str:
    """The completed call as one ``phone`` evaluation, key ``callback:<entry id>``."""
    ticket = session.get(Ticket, entry.ticket_id)
    hall = session.scalar(select(Hall.code).where(Hall.id == entry.hall_id))
    record: dict[str, Any] = {
        "key": f"callback:{entry.id}",
        "channel": "phone",
        "level": row.level,
        "occurred_at": row.at.isoformat(),
        "time_source": "server",
        "hall": hall,
    }
    if ticket is not None:
        record.update(ticket_record_fields(session, ticket))
    outcome = ingest_evaluations(
        session,
        [record],
        Submitter.callback(username),
        tz=policy.timezone,
        rules=policy.directory,
        one_rating=policy.one_rating,
        policy=policy,
    )
    if outcome.rejected:
        reasons = "; ".join(r.reason for r in outcome.rejected)
        raise CallbackError(409, f"the phone evaluation {record['key']} was refused: {reasons}")
    return str(record["key"])


def _opt_out(session: Session, phone_hash: str, attempt_id: int) -> None:
    known = session.scalar(select(CallbackOptOut.id).where(CallbackOptOut.phone_hash == phone_hash))
    if known is None:
        session.add(CallbackOptOut(phone_hash=phone_hash, source=f"attempt:{attempt_id}"))


def _activate_reserve(session: Session, closed: CallbackEntry, cb: CallbackPolicy) -> None:
    """The entry ended without 有效: open the reserve of its worklist and window with the lowest
    position, while the window's open and completed entries are below its target (the planned
    entries of the window)."""
    stmt: Any = (
        select(CallbackEntry, Ticket.window_id, Ticket.window_code)
        .join(Ticket, Ticket.id == CallbackEntry.ticket_id)
        .where(CallbackEntry.worklist_id == closed.worklist_id)
    )
    if session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update(of=CallbackEntry)
    rows = session.execute(stmt).all()
    window = next((w, c) for e, w, c in rows if e.id == closed.id)
    same = [e for e, w, c in rows if (w, c) == window]
    target = sum(not e.reserve for e in same)
    active = sum(e.state in ("open", "completed") for e in same)
    reserves = sorted((e for e in same if e.state == "reserve"), key=lambda e: (e.position, e.id))
    if active >= target or not reserves:
        return
    chosen = reserves[0]
    chosen.state = "open"
    chosen.next_call_at = None
    chosen.updated_at = closed.updated_at
    if chosen.agent_id is None and cb.assign == "round_robin":
        chosen.agent_id = closed.agent_id
