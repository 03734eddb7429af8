"""Rows of the append-only evaluation history (table evaluation_changes, docs/api.md).

A review always writes a row (who, when, why, and flags / excluded / counted before and after);
a gateway revision writes one when it changes the flags, the count or the attribution; 一次一评
(server/ingest/slots.py) writes one for every rating whose duplicate mark or count it changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from server.models import EvaluationChange

if TYPE_CHECKING:
    from server.ingest.principals import Submitter

REVIEW_FIELDS = ("flags", "excluded", "counted")
# What a revision may change (besides rev): attribution, and flags when no reviewer has decided.
REVISION_FIELDS = (
    "flags",
    "counted",
    "attribution",
    "department_id",
    "window_id",
    "window_code",
    "staff_id",
    "device_id",
    "matter_id",
    "ticket",
    "ticket_day",
    "duplicate_of",
)
ONE_RATING_FIELDS = ("flags", "counted", "duplicate_of")


def _value(name: str, value: Any) -> Any:
    if name == "flags":
        return sorted(value.split(",")) if value else []
    if name in ("excluded", "counted"):
        return bool(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def review_change(
    evaluation_id: int,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    reason: str,
    by: str,
    user_id: int | None,
    at: datetime,
) -> dict[str, Any]:
    return {
        "evaluation_id": evaluation_id,
        "at": at,
        "action": "review",
        "actor_kind": "user",
        "actor": by[:64],
        "user_id": user_id,
        "gateway_id": None,
        "reason": reason,
        "before": {f: _value(f, before[f]) for f in REVIEW_FIELDS},
        "after": {f: _value(f, after[f]) for f in REVIEW_FIELDS},
    }


def revision_change(
    evaluation_id: int,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    by: Submitter | None,
    at: datetime,
) -> dict[str, Any] | None:
    """The row for a higher rev, or None when it changed nothing but the rev."""
    changed = [f for f in REVISION_FIELDS if before[f] != after[f]]
    if not changed:
        return None
    return {
        "evaluation_id": evaluation_id,
        "at": at,
        "action": "revision",
        "actor_kind": actor_kind(by.kind) if by else "service",
        "actor": by.source if by else "service",
        "user_id": None,
        "gateway_id": by.gateway_id if by else None,
        "reason": None,
        "before": {"rev": before["rev"]} | {f: _value(f, before[f]) for f in changed},
        "after": {"rev": after["rev"]} | {f: _value(f, after[f]) for f in changed},
    }


def one_rating_change(
    evaluation_id: int, before: Mapping[str, Any], after: Mapping[str, Any], at: datetime
) -> dict[str, Any]:
    """The row for a change by 一次一评: the rating lost to ``duplicate_of``, won, or left the
    competition (excluded or flagged)."""
    winner = after["duplicate_of"]
    return {
        "evaluation_id": evaluation_id,
        "at": at,
        "action": "one_rating",
        "actor_kind": "server",
        "actor": "one_rating",
        "user_id": None,
        "gateway_id": None,
        "reason": (
            f"一次一评: another rating of the ticket counts (evaluation {winner})"
            if winner is not None
            else "一次一评: the counted rating of its ticket"
            if after["counted"]
            else "一次一评: no longer competing for its ticket"
        ),
        "before": {f: _value(f, before[f]) for f in ONE_RATING_FIELDS},
        "after": {f: _value(f, after[f]) for f in ONE_RATING_FIELDS},
    }


def add_changes(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(EvaluationChange), rows)


def actor_kind(kind: str) -> str:
    """A submitter's kind as stored (at most 8 characters): ``default_rating`` is ``default``."""
    return {"default_rating": "default"}.get(kind, kind)[:8]
