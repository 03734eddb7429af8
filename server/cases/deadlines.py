"""Case deadlines in working days and the yellow / red / 督办 flags (docs/cases.md "Deadlines").
Pure: no database, no clock; the caller passes the working days and "today" (hall-local).

- ``due`` = ``WorkingDays.add(opened_day, limit + extended_days)`` with ``limit`` =
  ``CasePolicy.limit(kind, category)``: the case is due by the end of that day. Day 0 is the day
  the case was accepted; a limit of 0 (立即 / 当场) means the accepting day itself, or the next
  working day when it was accepted on a day off.
- ``first_due`` = ``WorkingDays.add(opened_day, first_limit(kind))`` for the first step
  (bad_rating: the call-back 回访; complaint: the 承办单 to the office); None for cannot_do.
  Extensions (延期) move ``due`` only.
- ``provisional``: some day from ``opened_day`` through the later deadline lies in a year that
  neither chinese-calendar nor the override table covers (Mon-Fri was guessed); recomputed when
  the data arrives (server/cases/tick.py ``recompute_provisional``).

Flags of an open case, from each deadline still pending (``due``, and ``first_due`` while the
first step is not done), the most severe wins:
  yellow     today is on or before the deadline and at most ``yellow_before_days`` working days
             before it (WorkingDays.between(today, deadline) <= yellow_before_days);
  red        today is after the deadline;
  escalated  (督办) today is at least ``escalate_after_days`` working days after the deadline.
A first step done late stops counting once it is done (its lateness stays in ``first_on_time``).
A closed case has flag none.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from server.calendar import WorkingDays
from server.cases.policy import CasePolicy
from server.cases.states import OPEN_STATES

if TYPE_CHECKING:
    from server.models.cases import Case

_SEVERITY = {"none": 0, "yellow": 1, "red": 2, "escalated": 3}


@dataclass(frozen=True)
class CaseDeadlines:
    """What the flags depend on: the deadlines, the state and whether the first step is done."""

    opened_day: date
    due: date
    first_due: date | None = None
    state: str = "accepted"
    # The hall-local day the first step was done (call-back recorded / first assignment).
    first_done_day: date | None = None

    @classmethod
    def of(cls, case: Case | CaseDeadlines) -> CaseDeadlines:
        if isinstance(case, CaseDeadlines):
            return case
        extra: dict[str, Any] = case.extra or {}
        done = extra.get("first_done_day")
        return cls(
            opened_day=case.opened_day,
            due=case.due,
            first_due=case.first_due,
            state=case.state,
            first_done_day=date.fromisoformat(done) if done else None,
        )


@dataclass(frozen=True)
class Computed:
    first_due: date | None
    due: date
    provisional: bool


def case_days(wd: WorkingDays) -> WorkingDays:
    """The working days for case deadlines: a year without data is guessed (Mon-Fri) and the
    deadline marked provisional, whatever ``calendar_outside_data`` says for late ratings."""
    return wd if wd.outside_data == "weekdays" else replace(wd, outside_data="weekdays")


def compute(
    kind: str,
    category: str,
    opened_day: date,
    wd: WorkingDays,
    policy: CasePolicy,
    extended_days: int = 0,
) -> Computed:
    """The deadlines of a case accepted on ``opened_day``."""
    wd = case_days(wd)
    due = wd.add(opened_day, policy.limit(kind, category) + extended_days)
    first_limit = policy.first_limit(kind)
    first_due = None if first_limit is None else wd.add(opened_day, first_limit)
    last = max(due, first_due or due)
    return Computed(first_due, due, wd.any_provisional(opened_day, last))


def _flag(deadline: date, today: date, wd: WorkingDays, policy: CasePolicy) -> str:
    if today > deadline:
        late = wd.between(deadline, today)
        return "escalated" if late >= policy.escalate_after_days else "red"
    if wd.between(today, deadline) <= policy.yellow_before_days:
        return "yellow"
    return "none"


def flag_for(case: Case | CaseDeadlines, today: date, wd: WorkingDays, policy: CasePolicy) -> str:
    """The flag (CASE_FLAGS) of the case on the hall-local day ``today``."""
    d = CaseDeadlines.of(case)
    if d.state not in OPEN_STATES:
        return "none"
    wd = case_days(wd)
    pending = [d.due]
    if d.first_due is not None and d.first_done_day is None:
        pending.append(d.first_due)
    return max((_flag(day, today, wd, policy) for day in pending), key=_SEVERITY.__getitem__)


def overdue_days(deadline: date, today: date, wd: WorkingDays) -> int:
    """Working days ``today`` is past ``deadline`` (0 when not past)."""
    return max(0, case_days(wd).between(deadline, today)) if today > deadline else 0


def on_time(done_day: date, deadline: date) -> bool:
    """A step is on time when done by the end of its deadline day."""
    return done_day <= deadline
