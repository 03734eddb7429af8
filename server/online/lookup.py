"""Finding the ticket to rate: by hall, day and number (links), or by the number a citizen types
on a window's page (docs/online-rating.md "Per-window QR codes")."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.calendar import WorkingDays
from server.models import Ticket, Window
from server.online.period import rating_period
from server.online.policy import OnlinePolicy
from server.online.rejections import Refusal

# What a rating link can carry (gateway/rating_token.py): narrower than a ticket code.
LINK_NUMBER = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
RECENT = 20  # tickets of one number looked at, newest day first


def latest_ticket(session: Session, hall_id: int, number: str, day: date | None) -> Ticket | None:
    """The hall's ticket ``number`` of ``day``, or of its latest day when ``day`` is None."""
    stmt = select(Ticket).where(Ticket.hall_id == hall_id, Ticket.number == number)
    if day is not None:
        stmt = stmt.where(Ticket.local_day == day)
    return session.scalars(stmt.order_by(Ticket.local_day.desc()).limit(1)).first()


def window_ticket(
    session: Session,
    policy: OnlinePolicy,
    days: WorkingDays,
    hall: str,
    hall_id: int,
    window: Window,
    typed: str,
    today: date,
) -> Ticket:
    """The finished ticket ``typed`` served at ``window`` whose rating period (late limit
    included) holds ``today``; the newest such ticket when the number repeats. Raises Refusal:
    invalid_form (not a ticket number), not_finished, wrong_window, expired."""
    number = typed.strip()
    if not LINK_NUMBER.match(number):
        raise Refusal("invalid_form", "not a ticket number", hall=hall)
    numbers = {number, number.upper()}
    tickets = session.scalars(
        select(Ticket)
        .where(Ticket.hall_id == hall_id, Ticket.number.in_(numbers))
        .order_by(Ticket.local_day.desc(), Ticket.id.desc())
        .limit(RECENT)
    ).all()

    def refuse(reason: str, detail: str, day: date | None = None) -> Refusal:
        return Refusal(reason, detail, hall=hall, ticket=number, ticket_day=day)

    if not tickets:
        raise refuse("not_finished", "no such ticket in this hall")
    open_ = [
        t for t in tickets if rating_period(t.local_day, policy, days).timing(today) != "closed"
    ]
    here = [t for t in open_ if t.window_id == window.id]
    for ticket in here:
        if ticket.finished_at is not None:
            return ticket
    day = (here or open_ or tickets)[0].local_day
    if here:
        raise refuse("not_finished", "the ticket is not finished yet", day)
    if open_:
        raise refuse("wrong_window", f"served at another window, not {window.code}", day)
    raise refuse("expired", "the ticket's rating period is over", day)
