"""The export outbox (export_outbox): one row per record operation sent, or to be sent, to a
provincial 好差评 platform (docs/export.md "Outbox"). Rows are kept after their outcome: the
table is the per-record bookkeeping of what each platform accepted or refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, UTCDateTime, utcnow

EXPORT_OPS = ("create", "update", "withdraw")
# pending: to send when due; sending: claimed, the request may have reached the platform (checked
# with the platform's query before any resend); accepted / rejected: the platform's answer;
# failed: attempts used up without an answer.
EXPORT_STATES = ("pending", "sending", "accepted", "rejected", "failed")


class ExportOutbox(Base):
    """One operation on one record for one target. ``seq`` counts the operations of a record
    for a target (1: its create); an operation is sent only once every lower ``seq`` is
    settled, and a correction only after the create was accepted."""

    __tablename__ = "export_outbox"
    __table_args__ = (
        UniqueConstraint("target", "record_id", "seq"),
        Index("ix_export_outbox_target_state_next", "target", "state", "next_attempt_at"),
        Index("ix_export_outbox_evaluation", "evaluation_id", "target"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    target: Mapped[str] = mapped_column(String(64))  # the [[target]] name
    record_id: Mapped[str] = mapped_column(String(32))  # ExportRecord.record_id
    evaluation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("evaluations.id", ondelete="RESTRICT")
    )
    op: Mapped[str] = mapped_column(String(16))  # EXPORT_OPS
    seq: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the item as sent
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # requests that carried it
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(String(512), default=None)
    platform_ref: Mapped[str | None] = mapped_column(String(128), default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)  # last request
    # The rating's updated_at this row was built from (or last found unchanged at): a rating
    # changed after it is checked for a correction.
    evaluation_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
