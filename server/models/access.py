"""Who may talk to the server: devices, gateways (API keys) and admin users (roles)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, UTCDateTime, utcnow

DEVICE_KINDS = ("evaluator", "ballot_box")
# handler: a case officer (办理人员) of a hall, optionally of one department, who works the
# cases assigned to it (docs/cases.md "Roles").
ROLES = ("city_admin", "hall_admin", "viewer", "agent", "handler")
# Roles that see citizens' phone numbers unmasked (each read is audited: PhoneRead).
PHONE_ROLES = ("city_admin", "agent")


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("hall_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"), index=True)
    code: Mapped[str] = mapped_column(String(32))  # the device id on the wire, e.g. "EV-A03"
    kind: Mapped[str] = mapped_column(String(16))
    window_id: Mapped[int | None] = mapped_column(
        ForeignKey("windows.id", ondelete="SET NULL"), default=None
    )
    auto_created: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Gateway(Base):
    __tablename__ = "gateways"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"), index=True)
    # SHA-256 of a random 256-bit key: a slow hash would cost every ingest request.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    hall_id: Mapped[int | None] = mapped_column(
        ForeignKey("halls.id", ondelete="RESTRICT"), default=None
    )
    # A handler bound to one department works only the cases assigned to it (NULL: the hall's).
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), default=None
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # In every token's claims: a token whose version differs from the row's is refused.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PhoneRead(Base):
    """Audit of unmasked phone reads: one row per read, never updated or deleted by the API."""

    __tablename__ = "phone_reads"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"), index=True)
    ticket_id: Mapped[int] = mapped_column(BigInteger)  # kept after the phone is purged
    purpose: Mapped[str] = mapped_column(String(128), default="")


# A change to any of these ends the user's existing tokens.
TOKEN_ENDING_FIELDS = ("password_hash", "active", "role", "hall_id", "username")


@event.listens_for(User, "before_update")
def _bump_token_version(_mapper: Any, _connection: Any, user: User) -> None:
    state = inspect(user)
    if any(state.attrs[name].history.has_changes() for name in TOKEN_ENDING_FIELDS):
        user.token_version = (user.token_version or 0) + 1
