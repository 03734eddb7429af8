"""Rows of the append-only evaluation history (table evaluation_changes, docs/api.md).

A review always writes a row (who, when, why, and flags / excluded / counted before and after);
a gateway revision writes one when it changes the flags, the count or the attribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
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
)


def _value(name: str, value: Any) -> Any:
    if name == "flags":
        return sorted(value.split(",")) if value else []
    if name in ("excluded", "counted"):
        return bool(value)
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
        "actor_kind": by.kind if by else "service",
        "actor": by.source if by else "service",
        "user_id": None,
        "gateway_id": by.gateway_id if by else None,
        "reason": None,
        "before": {"rev": before["rev"]} | {f: _value(f, before[f]) for f in changed},
        "after": {"rev": after["rev"]} | {f: _value(f, after[f]) for f in changed},
    }


def add_changes(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(EvaluationChange), rows)
