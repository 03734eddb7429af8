"""The phone call-back channel (电话回访, docs/phone-callbacks.md): worklists drawn by policy, their
entries (one citizen to call), every call attempt, citizens who asked not to be called, agents'
halls, and the working-day overrides loaded from the State Council notice."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, UTCDateTime, utcnow

WORKLIST_KINDS = ("daily", "sample")
# Why an entry is on a worklist: every citizen served (seed 001), the period sample (seed 000),
# a 差评 of any channel (seed 002: 回访率 100%).
ENTRY_REASONS = ("served", "sample", "dissatisfied")
# open: to call (first call or a retry); reserve: drawn by oversampling, waiting to be needed;
# completed: an 有效 call, now a phone evaluation; closed: a final disposition or attempts used
# up; not_needed: withdrawn by an admin.
ENTRY_STATES = ("open", "reserve", "completed", "closed", "not_needed")


class CallbackWorklist(Base):
    """One draw: the hall's daily list (``daily``) or a period sample (``sample``)."""

    __tablename__ = "callback_worklists"

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"), index=True)
    # "H1:daily:2026-12-03" / "H1:sample:2026Q4": drawing the same list again returns this one.
    key: Mapped[str] = mapped_column(String(96), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(32))  # the work day or the period, as given
    served_from: Mapped[date] = mapped_column(Date)  # the tickets' hall-local days covered
    served_to: Mapped[date] = mapped_column(Date)
    work_day: Mapped[date] = mapped_column(Date)  # the day calls start
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seed: Mapped[str] = mapped_column(String(64))
    # The sampling frame (JSON): every candidate with its stratum, and every exclusion with its
    # reason, as the draw saw them. `verify` redraws from it and the seed.
    frame: Mapped[str] = mapped_column(Text)
    frame_sha256: Mapped[str] = mapped_column(String(64))
    policy: Mapped[str] = mapped_column(Text)  # JSON: the [callbacks] policy that drew it
    planned: Mapped[int] = mapped_column(Integer)  # entries that are not reserves
    reserves: Mapped[int] = mapped_column(Integer)
    # A working day was computed without holiday data for its year (no override loaded).
    calendar_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CallbackEntry(Base):
    """One citizen to call about one ticket."""

    __tablename__ = "callback_entries"
    __table_args__ = (
        UniqueConstraint("worklist_id", "ticket_id"),
        Index("ix_callback_entries_agent_state", "agent_id", "state"),
        Index("ix_callback_entries_hall_state", "hall_id", "state"),
        # GET /callbacks/stats (server/callbacks/stats.py load): the counts of a worklist's
        # entries from the index alone.
        Index(
            "ix_callback_entries_worklist_state",
            "worklist_id",
            "state",
            "reserve",
            "disposition",
            "due_at",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    worklist_id: Mapped[int] = mapped_column(
        ForeignKey("callback_worklists.id", ondelete="RESTRICT"), index=True
    )
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"))
    ticket_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tickets.id", ondelete="RESTRICT"), index=True
    )
    ticket_day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(16))
    # The 差评 that put it here (reason "dissatisfied"), else null.
    source_evaluation_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    stratum: Mapped[str] = mapped_column(String(64), default="")  # "<window>|<staff>"
    reserve: Mapped[bool] = mapped_column(Boolean, default=False)  # oversampling
    position: Mapped[int] = mapped_column(Integer, default=0)  # order within the draw
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), default="open")
    next_call_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    disposition: Mapped[str | None] = mapped_column(String(16), default=None)  # the latest
    evaluation_key: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CallbackAttempt(Base):
    """One call (or one imported result): kept forever, never edited."""

    __tablename__ = "callback_attempts"
    __table_args__ = (UniqueConstraint("entry_id", "attempt_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("callback_entries.id", ondelete="RESTRICT"), index=True
    )
    # Chosen by the client (the agent's page makes one per submission): a retried POST is
    # stored once.
    attempt_key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    username: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(8))  # "agent" (the page / API) or "import"
    disposition: Mapped[str] = mapped_column(String(16))
    level: Mapped[str | None] = mapped_column(String(24), default=None)
    reasons: Mapped[str] = mapped_column(String(256), default="")  # 差评 reasons, comma-separated
    comment: Mapped[str] = mapped_column(String(500), default="")  # phone numbers masked
    next_call_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class CallbackOptOut(Base):
    """A citizen who asked not to be called again: never drawn again."""

    __tablename__ = "callback_opt_outs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(64), default="")  # "attempt:<id>" / "cli:<user>"


class AgentHall(Base):
    """The halls an ``agent`` account works for (besides users.hall_id, when set)."""

    __tablename__ = "agent_halls"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    hall_id: Mapped[int] = mapped_column(
        ForeignKey("halls.id", ondelete="RESTRICT"), primary_key=True
    )


class CalendarDay(Base):
    """A day the State Council notice declares: a holiday (working false) or a 调休 working
    weekend day (working true). A year with any row is taken as fully covered by them."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(64), default="")  # 元旦 / 春节 …
    source: Mapped[str] = mapped_column(String(128), default="")
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
