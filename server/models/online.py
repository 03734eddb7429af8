"""Refused online-rating attempts (forged, expired or replayed links, rate limits, wrong
ticket): every one is logged here and counted (docs/online-rating.md "Abuse resistance")."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, UTCDateTime, utcnow

REJECTION_REASONS = (
    "malformed",  # not a token / not a ticket number
    "unknown_key",  # kid names no active gateway
    "bad_signature",  # forged or altered
    "expired",  # past the token's expiry or the rating period (late limit included)
    "not_finished",  # the ticket is unknown or not finished yet
    "wrong_hall",  # the link or window belongs to another hall
    "wrong_window",  # static QR: the ticket was not served at this window
    "already_rated",  # a replay: the ticket has its rating (and 追评 if allowed)
    "rate_limited",  # too many attempts from one address or for one ticket
    "invalid_form",  # a level or reason that is not on the page
)


class OnlineRejection(Base):
    __tablename__ = "online_rejections"
    __table_args__ = (Index("ix_online_rejections_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reason: Mapped[str] = mapped_column(String(24))
    hall_id: Mapped[int | None] = mapped_column(
        ForeignKey("halls.id", ondelete="SET NULL"), default=None
    )
    ticket: Mapped[str | None] = mapped_column(String(32), default=None)
    ticket_day: Mapped[date | None] = mapped_column(Date, default=None)
    # Keyed hash of the client address (never the address itself) and the page path kind.
    address_hash: Mapped[str] = mapped_column(String(64), default="")
    path: Mapped[str] = mapped_column(String(16), default="")  # "link" | "window" | "api"
    detail: Mapped[str] = mapped_column(String(256), default="")
