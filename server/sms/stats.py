"""SMS channel figures per day, window or hall (GET /api/v1/sms/stats, the dashboard's 短信评价
panel; docs/sms.md "Operations"). Counts texts by their ticket's hall-local day; no phone data.

- sent: texts the platform accepted (states sent, delivered, undeliverable)
- delivered / undeliverable / failed (gave up before the platform took it) / pending (queued,
  sending)
- replied: texts with at least one matched reply (any outcome); rated: texts whose reply became
  an SMS evaluation (valid reply, 短信评价)
- reply_rate = replied / sent, valid_reply_rate = rated / sent: exact fractions and percent
  strings as in server/scoring.py; null when nothing was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any, Literal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from server.models import Hall, SmsMessage, SmsReply, Window
from server.policy import Policy, fraction_text
from server.scoring import percent_text

By = Literal["day", "window", "hall"]
SENT_STATES = ("sent", "delivered", "undeliverable")


@dataclass(frozen=True)
class Figures:
    sent: int = 0
    delivered: int = 0
    undeliverable: int = 0
    failed: int = 0
    pending: int = 0
    replied: int = 0
    rated: int = 0

    @property
    def reply_rate(self) -> Fraction | None:
        return Fraction(self.replied, self.sent) if self.sent else None

    @property
    def valid_reply_rate(self) -> Fraction | None:
        return Fraction(self.rated, self.sent) if self.sent else None

    def to_dict(self, policy: Policy) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "delivered": self.delivered,
            "undeliverable": self.undeliverable,
            "failed": self.failed,
            "pending": self.pending,
            "replied": self.replied,
            "rated": self.rated,
            "reply_rate": _exact(self.reply_rate, policy),
            "valid_reply_rate": _exact(self.valid_reply_rate, policy),
        }


def _exact(value: Fraction | None, policy: Policy) -> dict[str, str] | None:
    if value is None:
        return None
    return {"exact": fraction_text(value), "percent": percent_text(value, policy)}


@dataclass(frozen=True)
class Bucket:
    day: date | None
    hall: str | None
    window: str | None
    figures: Figures


def _count(cond: Any) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def stats(
    session: Session, start: date, end: date, hall_id: int | None, by: By
) -> tuple[Figures, list[Bucket]]:
    """Figures of texts whose hall-local day is in [start, end), of one hall or all, in total
    and per bucket (ordered by day, or hall then window)."""
    m = SmsMessage
    # The replies of the texts in scope only: reading every reply ever received made the
    # answer's time grow with the table (docs/benchmarks.md "Dashboard API calls").
    in_scope = [m.local_day >= start, m.local_day < end]
    if hall_id is not None:
        in_scope.append(m.hall_id == hall_id)
    replies = (
        select(
            SmsReply.message_id.label("mid"),
            func.max(case((SmsReply.outcome == "rated", 1), else_=0)).label("rated"),
        )
        .join(m, m.id == SmsReply.message_id)
        .where(*in_scope)
        .group_by(SmsReply.message_id)
        .subquery()
    )
    # The text's copy of its ticket's window: no ticket is read
    # (docs/adr/0025-sms-window-copied.md).
    window_code = func.coalesce(Window.code, m.window_code)
    groups: dict[str, list[Any]] = {
        "day": [m.local_day],
        "hall": [Hall.code],
        "window": [Hall.code, window_code],
    }
    keys = groups[by]
    stmt = (
        select(
            *keys,
            _count(m.state.in_(SENT_STATES)),
            _count(m.state == "delivered"),
            _count(m.state == "undeliverable"),
            _count(m.state == "failed"),
            _count(m.state.in_(("queued", "sending"))),
            _count(replies.c.mid.is_not(None)),
            func.coalesce(func.sum(replies.c.rated), 0),
        )
        .select_from(m)
        .join(Hall, Hall.id == m.hall_id)
        .outerjoin(Window, Window.id == m.window_id)
        .outerjoin(replies, replies.c.mid == m.id)
        .where(*in_scope)
        .group_by(*keys)
    )
    buckets = []
    for row in session.execute(stmt).all():
        key, numbers = row[: len(keys)], row[len(keys) :]
        figures = Figures(*(int(n) for n in numbers))
        if by == "day":
            buckets.append(Bucket(key[0], None, None, figures))
        else:
            buckets.append(Bucket(None, key[0], key[1] if by == "window" else None, figures))
    buckets.sort(key=lambda b: (b.day or date.min, b.hall or "", b.window or ""))
    total = Figures(
        *(sum(getattr(b.figures, f) for b in buckets) for f in Figures.__dataclass_fields__)
    )
    return total, buckets
