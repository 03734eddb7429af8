"""Evaluation history: every change to an evaluation's flags, exclusion or attribution.

Append-only: rows are inserted by reviews (PATCH /evaluations/{id}), by gateway revisions
(a higher ``rev``) and by 一次一评 (one_rating); no code path updates or deletes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, UTCDateTime, utcnow

ACTIONS = ("review", "revision", "one_rating")
ACTOR_KINDS = (
    "user",
    "gateway",
    "import",
    "sms",
    "callback",
    "online",
    "default",
    "service",
    "server",
)


class EvaluationChange(Base):
    __tablename__ = "evaluation_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("evaluations.id", ondelete="RESTRICT"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(16))  # ACTIONS
    actor_kind: Mapped[str] = mapped_column(String(8))  # ACTOR_KINDS
    # The username, or the evaluation source of a gateway / import; kept if the account goes.
    actor: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    gateway_id: Mapped[int | None] = mapped_column(
        ForeignKey("gateways.id", ondelete="SET NULL"), default=None
    )
    reason: Mapped[str | None] = mapped_column(String(512), default=None)
    # The changed columns before and after, e.g. {"flags": ["misuse"], "counted": false}.
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
