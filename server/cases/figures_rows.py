"""The rows the case figures are computed from (server/cases/figures.py): one case, or a group
of cases alike in everything the figures read (server/cases/figures_query.py ``load_groups``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from server.cases.states import OPEN_STATES

Cohort = Literal["both", "opened", "closed"]


@dataclass(frozen=True)
class CaseRow:
    """What the figures need of one case (``office`` resolved as ``office_of`` says).

    A row of the grouped query stands for ``n`` cases and counts in one ``cohort`` only
    ("opened": its days and times other than ``due`` are placeholders; "closed": its
    ``opened_day``, ``closed_day`` and the time from ``opened_at`` to ``closed_at`` are real).
    ``callback_on_time``, when set, is whether it was called back by the end of its first_due
    (else computed from ``called_back_at``)."""

    kind: str
    hall: str
    state: str
    opened_at: datetime
    opened_day: date
    due: date
    first_due: date | None = None
    called_back_at: datetime | None = None
    closed_at: datetime | None = None
    closed_day: date | None = None
    closed_on_time: bool | None = None
    rectified: bool = False  # rectification text is not empty
    feedback: str | None = None
    extended_days: int = 0
    escalated: bool = False  # flagged 督办 now or at any time (the trail)
    withdrawn: bool = False  # bad_rating whose rating no longer counts
    office: str | None = None  # department code
    hall_name: str = ""
    office_name: str = ""
    n: int = 1
    cohort: Cohort = "both"
    callback_on_time: bool | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def office_of(
    kind: str, department_id: int | None, assignee_department_id: int | None
) -> int | None:
    """The office a case counts under: the rated window's department for a bad_rating case, the
    assignee department (承办科室) for a complaint or cannot_do case; each falls back to the
    other when it is not set."""
    if kind == "bad_rating":
        return department_id if department_id is not None else assignee_department_id
    return assignee_department_id if assignee_department_id is not None else department_id
