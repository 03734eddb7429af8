"""Who gets a rating text now (docs/sms.md, "Who gets a text").

Every ticket of the hall-local day `today` that finished, has a phone number and no counted
rating yet (一次一评: on site — evaluator or ballot box —, or from another channel of
``[one_rating] channels`` but sms; same hall, ticket number and ticket day) gets one text when it
is due by the policy, unless the ticket already has one, the number had one today, the number
opted out, the number is not a mainland mobile, or the hall's daily budget is used up.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from server.models import Evaluation, Hall, SmsMessage, SmsOptOut, Ticket, Window
from server.online.policy import OneRatingPolicy
from server.personal import PhoneKeyError, phone_digits
from server.sms.policy import ON_SITE_CHANNELS, SmsPolicy

MOBILE = re.compile(r"^1[3-9]\d{9}$")
SKIP_REASONS = (
    "not_due",
    "too_late_today",
    "rated_on_site",
    "rated_online",
    "rated_elsewhere",
    "already_texted",
    "phone_texted_today",
    "opted_out",
    "not_mobile",
    "over_budget",
)


@dataclass(frozen=True)
class Candidate:
    ticket_id: int
    hall_id: int
    hall_code: str
    hall_name: str
    number: str
    window: str | None
    phone: str  # 11 digits, in memory only
    phone_hash: str
    phone_enc: str
    local_day: date
    finished_at: datetime
    due_at: datetime


@dataclass
class Selection:
    due: list[Candidate] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    budget_reached: list[str] = field(default_factory=list)  # hall codes

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def budget_used(session: Session, hall_id: int, day: date) -> int:
    """Texts counted against a hall's day: every outbox row of it but the failed ones."""
    q = select(func.count(SmsMessage.id)).where(
        SmsMessage.hall_id == hall_id, SmsMessage.local_day == day, SmsMessage.state != "failed"
    )
    return int(session.scalar(q) or 0)


def select_due(
    session: Session,
    policy: SmsPolicy,
    now: datetime,
    tz: ZoneInfo,
    decrypt: Callable[[str], str],
    one_rating: OneRatingPolicy | None = None,
) -> Selection:
    """The texts due at ``now`` (aware), oldest finish first, within each hall's budget.

    A ticket with a counted rating is skipped: ``rated_on_site`` (evaluator, ballot box),
    ``rated_online``, ``rated_elsewhere`` (another channel of ``one_rating.channels``, not sms)."""
    local_now = now.astimezone(tz)
    today = local_now.date()
    competing = set((one_rating or OneRatingPolicy()).channels) - {"sms"}

    def rated(channels: set[str]) -> Any:
        return exists().where(
            Evaluation.hall_id == Ticket.hall_id,
            Evaluation.ticket == Ticket.number,
            Evaluation.ticket_day == Ticket.local_day,
            Evaluation.counted.is_(True),
            Evaluation.channel.in_(sorted(channels)),
        )

    on_site = rated(set(ON_SITE_CHANNELS))
    online = rated(competing & {"online"})
    elsewhere = rated(competing - {"online", *ON_SITE_CHANNELS})
    texted = exists().where(SmsMessage.ticket_id == Ticket.id)
    phone_today = exists().where(
        and_(SmsMessage.phone_hash == Ticket.phone_hash, SmsMessage.local_day == today)
    )
    opted = exists().where(SmsOptOut.phone_hash == Ticket.phone_hash)
    rows = session.execute(
        select(
            Ticket,
            Hall.code,
            Hall.name,
            Window.code,
            on_site.label("on_site"),
            online.label("online"),
            elsewhere.label("elsewhere"),
            texted.label("texted"),
            phone_today.label("phone_today"),
            opted.label("opted"),
        )
        .join(Hall, Hall.id == Ticket.hall_id)
        .outerjoin(Window, Window.id == Ticket.window_id)
        .where(
            Ticket.local_day == today,
            Ticket.finished_at.is_not(None),
            Ticket.phone_hash.is_not(None),
            Ticket.phone_enc.is_not(None),
        )
        .order_by(Ticket.finished_at, Ticket.id)
    ).all()
    out = Selection()
    seen_phones: set[str] = set()
    remaining: dict[int, int] = {}
    for row in rows:
        ticket, hall_code, hall_name, window_code, here, on_line, other = row[:7]
        has_text, had_today, opt = row[7:]
        assert ticket.finished_at is not None and ticket.phone_hash and ticket.phone_enc
        if has_text:
            out.skip("already_texted")
            continue
        if here or on_line or other:
            out.skip("rated_on_site" if here else "rated_online" if on_line else "rated_elsewhere")
            continue
        if opt:
            out.skip("opted_out")
            continue
        if had_today or ticket.phone_hash in seen_phones:
            out.skip("phone_texted_today")
            continue
        due = policy.due_at(ticket.finished_at.astimezone(tz))
        if due is None:
            out.skip("too_late_today")
            continue
        if due > local_now:
            out.skip("not_due")
            continue
        try:
            phone = phone_digits(decrypt(ticket.phone_enc))
        except PhoneKeyError:
            phone = ""
        if not MOBILE.match(phone):
            out.skip("not_mobile")
            continue
        if ticket.hall_id not in remaining:
            used = budget_used(session, ticket.hall_id, today)
            remaining[ticket.hall_id] = max(0, policy.daily_budget - used)
        if remaining[ticket.hall_id] <= 0:
            out.skip("over_budget")
            if hall_code not in out.budget_reached:
                out.budget_reached.append(hall_code)
            continue
        remaining[ticket.hall_id] -= 1
        seen_phones.add(ticket.phone_hash)
        out.due.append(
            Candidate(
                ticket_id=ticket.id,
                hall_id=ticket.hall_id,
                hall_code=hall_code,
                hall_name=hall_name or hall_code,
                number=ticket.number,
                window=window_code or ticket.window_code,
                phone=phone,
                phone_hash=ticket.phone_hash,
                phone_enc=ticket.phone_enc,
                local_day=today,
                finished_at=ticket.finished_at,
                due_at=due,
            )
        )
    return out
