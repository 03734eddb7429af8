"""Replies into the database: dedupe, match, and each valid rating into ingest as an ``sms``
evaluation (docs/sms.md "Replies").

``store_replies`` is shared by the pull loop (``intake``, called by the SMS worker / CLI) and the
push callback route (server/sms/routes.py). It is idempotent on (provider, dedupe_key): a
provider's retried push, or the same reply pulled twice, is stored once.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.config import Settings
from server.db import begin_write
from server.ingest import Submitter, ingest_evaluations
from server.ingest.ticket_fields import ticket_record_fields
from server.models import Hall, SmsMessage, SmsOptOut, SmsReply, Ticket
from server.personal import PhoneCipher, phone_digits, scrub_phones
from server.policy import Policy, load_policy
from server.sms.matching import CLOCK_SKEW, LATE_LOOKBACK, Match, SentText, match_reply
from server.sms.provider import Reply, SmsProvider
from server.sms.replies import parse_reply

MAX_TEXT = 1024
MAX_DEDUPE_KEY = 128
MAX_PROVIDER = 16
# States of a text the citizen may have received (a reply proves delivery, whatever the report).
REPLIABLE_STATES = ("sent", "delivered", "undeliverable")


def hashed_dedupe_key(phone: str, received_at: datetime, text: str) -> str:
    """The dedupe key of a reply whose platform gives it no id: a hash of the number's digits,
    the reply's Unix second and its text (the same reply pulled or pushed again hashes alike)."""
    raw = f"{phone_digits(phone)}|{int(received_at.timestamp())}|{text}"
    return "h:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]


@dataclass
class IntakeResult:
    stored: int = 0  # new replies
    retried: int = 0  # already stored (provider retries, pulled twice)
    outcomes: Counter[str] = field(default_factory=Counter)
    latest: datetime | None = None  # the latest reply time seen: the next pull's ``since``

    def to_dict(self) -> dict[str, Any]:
        return {"stored": self.stored, "retried": self.retried, "outcomes": dict(self.outcomes)}


def intake(
    session: Session,
    provider: SmsProvider,
    since: datetime,
    *,
    settings: Settings | None = None,
    policy: Policy | None = None,
) -> IntakeResult:
    """One step of the pull loop: the provider's replies since ``since``, stored and committed.
    Pass ``result.latest`` (if not None) as the next ``since``; overlap is harmless (dedupe)."""
    settings = settings or Settings()
    policy = policy or load_policy(settings.policy_file)
    return store_replies(session, provider.replies(since), settings.phone_cipher, policy)


def store_replies(
    session: Session, replies: Iterable[Reply], cipher: PhoneCipher, policy: Policy
) -> IntakeResult:
    """Store, match and ingest ``replies`` in one transaction, and commit. If a concurrent
    request stored one of them first (a unique key clash), the batch is redone once: that
    reply is then a retry."""
    batch = list(replies)
    for attempt in (1, 2):
        result = IntakeResult()
        begin_write(session)
        try:
            for reply in batch:
                _store_one(session, reply, cipher, policy, result)
            session.commit()
            return result
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _aware(at: datetime, policy: Policy) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=policy.tzinfo)


def _dedupe_key(reply: Reply) -> str:
    key = reply.dedupe_key or hashed_dedupe_key(reply.phone, reply.received_at, reply.text)
    if len(key) > MAX_DEDUPE_KEY:
        key = "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()
    return key


def _store_one(
    session: Session, reply: Reply, cipher: PhoneCipher, policy: Policy, result: IntakeResult
) -> None:
    received_at = _aware(reply.received_at, policy)
    if result.latest is None or received_at > result.latest:
        result.latest = received_at
    provider, key = reply.provider[:MAX_PROVIDER], _dedupe_key(reply)
    seen = session.scalar(
        select(SmsReply.id).where(SmsReply.provider == provider, SmsReply.dedupe_key == key)
    )
    if seen is not None:
        result.retried += 1
        return
    phone_hash = cipher.digest(reply.phone)
    parsed = parse_reply(reply.text, policy)
    texts = _sent_texts(session, phone_hash, received_at)
    match = match_reply(parsed.kind, received_at, texts, policy)
    row = SmsReply(
        provider=provider,
        dedupe_key=key,
        phone_hash=phone_hash,
        text=scrub_phones(reply.text)[:MAX_TEXT],
        received_at=received_at,
        message_id=match.message_id,
        outcome=match.outcome,
        level=parsed.level,
    )
    session.add(row)
    session.flush()
    if match.outcome == "rated":
        _ingest_rating(session, row, match, provider, policy)
    elif match.outcome == "opt_out":
        exists = session.scalar(select(SmsOptOut.id).where(SmsOptOut.phone_hash == phone_hash))
        if exists is None:
            session.add(SmsOptOut(phone_hash=phone_hash, source=f"reply:{row.id}"))
            session.flush()
    result.stored += 1
    result.outcomes[row.outcome] += 1


def _sent_texts(session: Session, phone_hash: str, received_at: datetime) -> list[SentText]:
    stmt = select(SmsMessage.id, SmsMessage.sent_at).where(
        SmsMessage.phone_hash == phone_hash,
        SmsMessage.state.in_(REPLIABLE_STATES),
        SmsMessage.sent_at >= received_at - LATE_LOOKBACK,
        SmsMessage.sent_at <= received_at + CLOCK_SKEW,
    )
    if session.get_bind().dialect.name != "sqlite":
        # Two replies from one phone at once: the second waits, then sees the first's rating.
        stmt = stmt.with_for_update()
    rows = [(i, at) for i, at in session.execute(stmt).all() if at is not None]
    ids = [i for i, _ in rows]
    rated = set(
        session.scalars(
            select(SmsReply.message_id).where(
                SmsReply.message_id.in_(ids), SmsReply.outcome == "rated"
            )
        )
    )
    return [SentText(i, at, i in rated) for i, at in rows]


def _ingest_rating(
    session: Session, row: SmsReply, match: Match, provider: str, policy: Policy
) -> None:
    """The rating as an ``sms`` evaluation, key ``sms:<out_id>``, attributed to the text's ticket
    (window, staff, matter), at the reply's time."""
    message = session.get(SmsMessage, match.message_id)
    assert message is not None and row.level is not None
    hall = session.scalar(select(Hall.code).where(Hall.id == message.hall_id))
    record: dict[str, Any] = {
        "key": f"sms:{message.out_id}",
        "channel": "sms",
        "level": row.level,
        "occurred_at": row.received_at.isoformat(),
        "hall": hall,
    }
    ticket = session.get(Ticket, message.ticket_id) if message.ticket_id is not None else None
    if ticket is not None:
        record.update(ticket_record_fields(session, ticket))
    submitter = Submitter.sms_pipeline(provider)
    outcome = ingest_evaluations(
        session,
        [record],
        submitter,
        tz=policy.timezone,
        rules=policy.directory,
        one_rating=policy.one_rating,
        policy=policy,
    )
    if outcome.accepted == 1:
        row.evaluation_key = record["key"]
    elif outcome.duplicates == 1 or outcome.rejected:
        # The text's rating is already stored (or stored with another level): keep the first.
        reasons = "; ".join(r.reason for r in outcome.rejected)
        if outcome.rejected and "already stored" not in reasons:
            raise RuntimeError(f"SMS rating {record['key']} refused by ingest: {reasons}")
        row.outcome = "duplicate"
    session.flush()
