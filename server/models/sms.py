"""The SMS rating channel: the outbox of texts (sms_messages), citizens' replies (sms_replies)
and the opt-out list (sms_opt_outs). Phones only encrypted and hashed (server/personal.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, UTCDateTime, utcnow

SMS_STATES = ("queued", "sending", "sent", "failed", "delivered", "undeliverable")
REPLY_OUTCOMES = ("rated", "not_a_rating", "late", "unmatched", "opt_out", "duplicate")


class SmsMessage(Base):
    """One rating text (docs/sms.md, "Outbox"). The unique ticket and (phone, day) make the
    one-per-ticket and one-per-phone-per-day rules hold in the database itself."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        UniqueConstraint("ticket_id"),
        UniqueConstraint("phone_hash", "local_day"),
        Index("ix_sms_messages_state_next", "state", "next_attempt_at"),
        Index("ix_sms_messages_hall_day", "hall_id", "local_day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    out_id: Mapped[str] = mapped_column(String(64), unique=True)  # OutId / SessionContext
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"))
    ticket_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tickets.id", ondelete="RESTRICT")
    )
    phone_hash: Mapped[str] = mapped_column(String(64))
    phone_enc: Mapped[str | None] = mapped_column(String(256), default=None)
    local_day: Mapped[date] = mapped_column(Date)  # the ticket's hall-local day
    # The ticket's window, copied when the text is queued and kept in step when the ticket's
    # window changes (server/ingest/tickets.py): the per-window figures read no tickets
    # (docs/adr/0025-sms-window-copied.md).
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"), default=None)
    window_code: Mapped[str | None] = mapped_column(String(16), default=None)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # send calls made
    provider: Mapped[str | None] = mapped_column(String(16), default=None)
    provider_id: Mapped[str | None] = mapped_column(String(64), default=None)  # BizId / SerialNo
    segments: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)  # last send call
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(String(256), default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class SmsReply(Base):
    """One upstream reply, kept whatever it says (docs/sms.md, "Replies")."""

    __tablename__ = "sms_replies"
    __table_args__ = (UniqueConstraint("provider", "dedupe_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(String(1024))  # phone numbers in it masked
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    message_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("sms_messages.id", ondelete="SET NULL"), default=None, index=True
    )
    outcome: Mapped[str] = mapped_column(String(16))
    level: Mapped[str | None] = mapped_column(String(24), default=None)
    evaluation_key: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SmsOptOut(Base):
    """A phone number that said 退订 / TD: never texted again."""

    __tablename__ = "sms_opt_outs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(64), default="")  # "reply:<id>" or "cli:<user>"
