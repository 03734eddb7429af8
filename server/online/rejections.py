"""Refused online-rating attempts: the reasons and their HTTP statuses, the log row written for
each (table online_rejections) and what the admin API and /metrics read from it
(docs/online-rating.md "Abuse resistance")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Hall
from server.models.online import REJECTION_REASONS, OnlineRejection

# The status of the refusal page (or API answer) for each reason.
STATUS: dict[str, int] = {
    "malformed": 400,
    "unknown_key": 403,
    "bad_signature": 403,
    "wrong_hall": 403,
    "wrong_window": 403,
    "not_finished": 404,
    "already_rated": 409,
    "expired": 410,
    "invalid_form": 422,
    "rate_limited": 429,
}
assert set(STATUS) == set(REJECTION_REASONS)
PATHS = ("link", "window", "api")


class Refusal(Exception):
    """An attempt refused for ``reason`` (one of REJECTION_REASONS); ``detail`` is logged (no
    personal data), ``hall``/``ticket``/``ticket_day`` as far as they are known."""

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        hall: str | None = None,
        ticket: str | None = None,
        ticket_day: date | None = None,
    ) -> None:
        assert reason in STATUS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail
        self.hall, self.ticket, self.ticket_day = hall, ticket, ticket_day

    @property
    def status(self) -> int:
        return STATUS[self.reason]


def record_rejection(
    session: Session, refusal: Refusal, address_hash: str, path: str, at: datetime
) -> None:
    """Log ``refusal`` in its own transaction: whatever the attempt had begun is rolled back
    first, the log row is committed."""
    session.rollback()
    hall_id = None
    if refusal.hall is not None:
        hall_id = session.scalar(select(Hall.id).where(Hall.code == refusal.hall))
    session.add(
        OnlineRejection(
            at=at,
            reason=refusal.reason,
            hall_id=hall_id,
            ticket=refusal.ticket[:32] if refusal.ticket else None,
            ticket_day=refusal.ticket_day,
            address_hash=address_hash,
            path=path,
            detail=refusal.detail[:256],
        )
    )
    session.commit()


@dataclass(frozen=True)
class RejectionFilter:
    hall_ids: tuple[int, ...] | None  # None: every hall (rows of no known hall included)
    reason: str | None = None
    start: datetime | None = None  # UTC, inclusive
    end: datetime | None = None  # UTC, exclusive


def _where(stmt: Any, f: RejectionFilter) -> Any:
    if f.hall_ids is not None:
        stmt = stmt.where(OnlineRejection.hall_id.in_(f.hall_ids))
    if f.reason is not None:
        stmt = stmt.where(OnlineRejection.reason == f.reason)
    if f.start is not None:
        stmt = stmt.where(OnlineRejection.at >= f.start)
    if f.end is not None:
        stmt = stmt.where(OnlineRejection.at < f.end)
    return stmt


def list_rejections(
    session: Session, f: RejectionFilter, after_id: int, limit: int
) -> list[dict[str, Any]]:
    """Rows of ``f`` with an id above ``after_id``, oldest first, at most ``limit``."""
    stmt = (
        select(OnlineRejection, Hall.code)
        .outerjoin(Hall, Hall.id == OnlineRejection.hall_id)
        .where(OnlineRejection.id > after_id)
        .order_by(OnlineRejection.id)
        .limit(limit)
    )
    return [
        {
            "id": row.id,
            "at": row.at,
            "reason": row.reason,
            "hall": hall,
            "ticket": row.ticket,
            "ticket_day": row.ticket_day,
            "address_hash": row.address_hash,
            "path": row.path,
            "detail": row.detail,
        }
        for row, hall in session.execute(_where(stmt, f)).all()
    ]


def rejection_counts(session: Session, f: RejectionFilter | None = None) -> dict[str, int]:
    """Rejections per reason (every reason, zeros included) matching ``f`` (None: all)."""
    stmt = select(OnlineRejection.reason, func.count()).group_by(OnlineRejection.reason)
    if f is not None:
        stmt = _where(stmt, f)
    counts = dict.fromkeys(REJECTION_REASONS, 0)
    for reason, n in session.execute(stmt).all():
        counts[reason] = counts.get(reason, 0) + int(n)
    return counts
