"""Queue tickets (取号单) as reported by the hall's queue system through the gateway."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, UTCDateTime, utcnow


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("hall_id", "key"),
        Index("ix_tickets_hall_day", "hall_id", "local_day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"))
    key: Mapped[str] = mapped_column(String(128))  # "hall:date:number"
    number: Mapped[str] = mapped_column(String(32))
    matter_id: Mapped[int | None] = mapped_column(ForeignKey("matters.id"), default=None)
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"), default=None)
    # The window code as reported when the hall has no such window; null otherwise.
    window_code: Mapped[str | None] = mapped_column(String(16), default=None)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The citizen's phone number, if the queue system reports one: AES-GCM ciphertext and a
    # keyed hash (HMAC-SHA256) for matching, never the number in clear (server/personal.py).
    phone_enc: Mapped[str | None] = mapped_column(String(256), default=None)
    phone_hash: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    local_day: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
