"""TEMPORARY stand-ins for the SMS tables of server/models/sms.py (written by sms-core, with
Alembic migration 0007). The reply code imports its three models from here only, so the merge
replaces this file by::

    from server.models.sms import SmsMessage, SmsOptOut, SmsReply

    def ensure_tables(engine: Engine) -> None:  # the migration made them
        return None

The columns are those of the shared decisions (sms_messages, sms_replies, sms_opt_outs). They
sit on their own metadata, without foreign keys to the core tables, so that the core schema
(and its migration test) does not see them; tests create them with ``ensure_tables``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Engine, ForeignKey, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.models.base import NAMING_CONVENTION, BigId, UTCDateTime, utcnow


class _TempBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SmsMessage(_TempBase):
    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    out_id: Mapped[str] = mapped_column(String(64), unique=True)
    hall_id: Mapped[int] = mapped_column(Integer)  # FK halls.id in the real model
    ticket_id: Mapped[int | None] = mapped_column(BigId, default=None)  # FK tickets.id
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    phone_enc: Mapped[str | None] = mapped_column(String(256), default=None)
    local_day: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str] = mapped_column(String(16), default="")
    provider_id: Mapped[str | None] = mapped_column(String(64), default=None)
    segments: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(String(256), default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class SmsReply(_TempBase):
    __tablename__ = "sms_replies"
    __table_args__ = (UniqueConstraint("provider", "dedupe_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(String(512))  # phone numbers in it masked
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_messages.id"), default=None, index=True
    )
    # rated | duplicate | late | unmatched | not_a_rating | opt_out
    outcome: Mapped[str] = mapped_column(String(16))
    level: Mapped[str | None] = mapped_column(String(24), default=None)
    evaluation_key: Mapped[str | None] = mapped_column(String(128), default=None)


class SmsOptOut(_TempBase):
    __tablename__ = "sms_opt_outs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[int | None] = mapped_column(BigId, default=None)  # the sms_replies id


def ensure_tables(engine: Engine) -> None:
    """Create the stand-in tables (tests only; the real ones come from migration 0007)."""
    _TempBase.metadata.create_all(engine)
