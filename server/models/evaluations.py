"""Evaluations (评价): one row per rating from any channel; flagged rows are kept, never deleted."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, UTCDateTime, utcnow

CHANNELS = ("evaluator", "ballot_box", "sms", "phone", "online", "system_default")
LEVELS = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")
ATTRIBUTIONS = ("attributed", "no_ticket", "unattributed", "late")
# device: the device clock; gateway: the gateway's receive time (device clock invalid); import: a
# time from an imported file or a platform; server: the server's clock when the result was
# recorded (phone call-backs entered by an agent).
TIME_SOURCES = ("device", "gateway", "import", "server")


class Evaluation(Base):
    __tablename__ = "evaluations"
    __table_args__ = (
        # Device keys are "device:boot:seq" and device ids repeat between halls ("EV-A03").
        UniqueConstraint("hall_id", "key"),
        Index("ix_evaluations_hall_day", "hall_id", "local_day"),
        # The 差评 list (server/badratings/service.py): its count and page read the index only.
        Index(
            "ix_evaluations_hall_level_day",
            "hall_id",
            "level",
            "local_day",
            "counted",
            "occurred_at",
        ),
        # 一次一评: the ratings of one ticket (hall, ticket day, number), whatever the channel.
        Index("ix_evaluations_ticket_slot", "hall_id", "ticket_day", "ticket"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"))
    key: Mapped[str] = mapped_column(String(128))
    rev: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    local_day: Mapped[date] = mapped_column(Date)  # hall-local calendar day of occurred_at
    time_source: Mapped[str] = mapped_column(String(8))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), default=None)
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"), default=None)
    # The window code as reported when the hall has no such window (flag unknown_window, not
    # auto-created by policy); null otherwise.
    window_code: Mapped[str | None] = mapped_column(String(16), default=None)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), default=None)
    matter_id: Mapped[int | None] = mapped_column(ForeignKey("matters.id"), default=None)
    ticket: Mapped[str | None] = mapped_column(String(32), default=None)  # ticket number
    # The hall-local day of the ticket rated (with ``ticket``, the ticket's identity for
    # 一次一评); null when the record names no ticket. Device votes: the vote's own day.
    ticket_day: Mapped[date | None] = mapped_column(Date, default=None)
    # 一次一评 (server/online/one_rating.py): the id of the ticket's counted rating when this one
    # lost to it (flag duplicate_ticket set by the server); null otherwise.
    duplicate_of: Mapped[int | None] = mapped_column(BigId, default=None)
    # A rating given after the normal rating period, within the late limit (山东: 5 working
    # days): accepted, counted, and marked.
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The citizen's own words (online page, call-back notes), phone numbers scrubbed; and the
    # 差评 reasons chosen from the policy's list, comma-separated.
    comment: Mapped[str | None] = mapped_column(String(500), default=None)
    reasons: Mapped[str] = mapped_column(String(256), default="", server_default="")
    attribution: Mapped[str] = mapped_column(String(16))
    flags: Mapped[str] = mapped_column(String(256), default="")  # comma-separated, sorted
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)  # by an admin (申诉复核)
    review_reason: Mapped[str | None] = mapped_column(String(512), default=None)
    reviewed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # A review set the flags: later revisions keep them (but for the server's unknown_window,
    # which always follows the attribution). A review of the exclusion alone leaves it false.
    flags_reviewed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Derived: not flagged and not excluded. Stored so filters and aggregates agree.
    counted: Mapped[bool] = mapped_column(Boolean)
    # Set by the server from the submitter: "gateway:<code>", "import:<file>" (never the client's).
    source: Mapped[str] = mapped_column(String(64))
    # The gateway whose key submitted the record; null for hallrate import and service callers.
    gateway_id: Mapped[int | None] = mapped_column(
        ForeignKey("gateways.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
