"""What `hallrate sms status` and `/metrics` show: outbox counts, budget use, alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Hall, SmsMessage, SmsOptOut, SmsReply
from server.policy import Policy
from server.sms import outbox
from server.sms.selection import budget_used


@dataclass
class SmsStatus:
    day: date
    today: dict[str, int]
    total: dict[str, int]
    replies: int
    opt_outs: int
    budget: dict[str, int] = field(default_factory=dict)  # hall code -> texts counted today
    budget_reached: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)


def status(session: Session, policy: Policy, now: datetime) -> SmsStatus:
    day = now.astimezone(policy.tzinfo).date()
    st = SmsStatus(
        day=day,
        today=outbox.counts_by_state(session, day),
        total=outbox.counts_by_state(session),
        replies=int(session.scalar(select(func.count(SmsReply.id))) or 0),
        opt_outs=int(session.scalar(select(func.count(SmsOptOut.id))) or 0),
    )
    halls = session.execute(
        select(Hall.id, Hall.code)
        .where(Hall.id.in_(select(SmsMessage.hall_id).where(SmsMessage.local_day == day)))
        .order_by(Hall.code)
    ).all()
    cap = policy.sms.daily_budget
    for hall_id, code in halls:
        used = budget_used(session, hall_id, day)
        st.budget[code] = used
        if used >= cap:
            st.budget_reached.append(code)
            st.alerts.append(f"sms_budget_reached: hall {code} used {used} of {cap} texts on {day}")
    if st.today["failed"]:
        st.alerts.append(
            f"sms_failed: {st.today['failed']} texts failed today"
            " (hallrate sms outbox --state failed)"
        )
    return st
