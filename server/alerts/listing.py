"""Reading alerts: the filtered, newest-first list behind ``GET /api/v1/alerts`` and
`hallrate alerts list`, and marking dashboard notifications read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from server.models.cases import Alert, Case
from server.models.org import Hall


@dataclass(frozen=True)
class AlertFilter:
    hall_ids: tuple[int, ...] | None = None  # None: every hall
    state: str | None = None
    event: str | None = None
    channel: str | None = None
    unread: bool = False  # dashboard notifications nobody has marked read
    case_id: int | None = None


_Q = TypeVar("_Q", bound=Select)


def _where(q: _Q, f: AlertFilter) -> _Q:
    if f.hall_ids is not None:
        q = q.where(Alert.hall_id.in_(f.hall_ids))
    if f.state:
        q = q.where(Alert.state == f.state)
    if f.event:
        q = q.where(Alert.event == f.event)
    if f.channel:
        q = q.where(Alert.channel == f.channel)
    if f.case_id is not None:
        q = q.where(Alert.case_id == f.case_id)
    if f.unread:
        q = q.where(Alert.channel == "dashboard", Alert.state == "sent", Alert.read_at.is_(None))
    return q


def unread_count(session: Session, hall_ids: tuple[int, ...] | None) -> int:
    q = _where(select(func.count()).select_from(Alert), AlertFilter(hall_ids, unread=True))
    return int(session.scalar(q) or 0)


def list_alerts(
    session: Session, f: AlertFilter, *, before: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Newest first; ``before``: only ids below it (the next page's cursor)."""
    q = _where(
        select(Alert, Hall.code, Case.number)
        .join(Hall, Hall.id == Alert.hall_id)
        .outerjoin(Case, Case.id == Alert.case_id),
        f,
    )
    if before is not None:
        q = q.where(Alert.id < before)
    rows = session.execute(q.order_by(Alert.id.desc()).limit(limit)).all()
    return [alert_out(a, hall_code, number) for a, hall_code, number in rows]


def alert_out(a: Alert, hall_code: str, case_number: str | None) -> dict[str, Any]:
    p = a.payload or {}
    return {
        "id": a.id,
        "hall": hall_code,
        "case_id": a.case_id,
        "case_number": case_number,
        "event": a.event,
        "channel": a.channel,
        "target_id": a.target_id,
        "title": a.title,
        "body": a.body,
        "title_en": p.get("title_en", ""),
        "body_en": p.get("body_en", ""),
        "link": p.get("link") or (f"/cases/{a.case_id}" if a.case_id else None),
        "payload": p,
        "state": a.state,
        "created_at": a.created_at,
        "not_before": a.not_before,
        "attempts": a.attempts,
        "last_error": a.last_error,
        "sent_at": a.sent_at,
        "read_at": a.read_at,
        "read_by": a.read_by,
    }


def mark_read(session: Session, hall_ids: tuple[int, ...] | None, who: str, now: datetime) -> int:
    """Every unread dashboard notification of these halls (None: all), read now by ``who``."""
    q = update(Alert).where(
        Alert.channel == "dashboard", Alert.state == "sent", Alert.read_at.is_(None)
    )
    if hall_ids is not None:
        q = q.where(Alert.hall_id.in_(hall_ids))
    result = session.execute(
        q.values(read_at=now, read_by=who[:64]).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
