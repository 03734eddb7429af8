"""A ticket's rating period (pure): the normal period, the late limit, the 追评 limit and the
system default rating's day, all as hall-local days (docs/online-rating.md "Policy")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from server.calendar import WorkingDays
from server.online.policy import DefaultRatingPolicy, OnlinePolicy

Timing = Literal["on_time", "late", "closed"]


@dataclass(frozen=True, slots=True)
class RatingPeriod:
    ticket_day: date
    last_day: date  # the normal period ends at the end of this hall-local day
    late_last_day: date  # ratings up to the end of this day are accepted, marked late
    provisional: bool  # the late limit counts working days the calendar data does not cover

    def timing(self, today: date) -> Timing:
        """``on_time`` within the normal period, ``late`` within the late limit, else
        ``closed``. A day before the ticket's day is ``closed`` (a forged or skewed date)."""
        if today < self.ticket_day or today > self.late_last_day:
            return "closed"
        return "on_time" if today <= self.last_day else "late"


def rating_period(ticket_day: date, policy: OnlinePolicy, days: WorkingDays) -> RatingPeriod:
    """The period of a ticket of ``ticket_day``: ``rating_days`` natural days after it, then
    ``late_rating_working_days`` working days after that (山东: 5)."""
    last = ticket_day + timedelta(days=policy.rating_days)
    late_days = policy.late_rating_working_days
    if late_days == 0:
        return RatingPeriod(ticket_day, last, last, False)
    late_last = days.add(last, late_days)
    return RatingPeriod(ticket_day, last, late_last, days.any_provisional(last, late_last))


def followup_last_day(first_rating_day: date, policy: OnlinePolicy) -> date | None:
    """The last hall-local day of the 追评 after a first online rating on
    ``first_rating_day``; None when the policy allows none."""
    if policy.followup_days == 0:
        return None
    return first_rating_day + timedelta(days=policy.followup_days)


def default_rating_day(ticket_day: date, policy: DefaultRatingPolicy, days: WorkingDays) -> date:
    """The hall-local day on which an unrated ticket of ``ticket_day`` gets its system default
    rating: ``after_days`` natural or working days after it (广东: 7 natural days)."""
    if policy.day_kind == "natural":
        return ticket_day + timedelta(days=policy.after_days)
    return days.add(ticket_day, policy.after_days)
