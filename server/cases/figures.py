"""Case figures per period and hall or office (docs/cases.md "Figures"; GET
/api/v1/cases/figures; the dashboard's 案件 panel).

Two cohorts of a period P (hall-local days [start, end)), judged at ``today`` (the hall-local
day of the request):

- **opened**: cases whose ``opened_day`` is in P. The 差评 rates, and ``open``, ``overdue``,
  ``extended``, ``escalated``, are of this cohort. A case of it counts as called back or
  rectified whenever that happened, up to the request.
- **closed**: cases whose ``closed_day`` is in P: ``closed``, on time / late, the median time
  to close and the citizens' 满意 / 不满意 feedback.

差评回访率     = called back (called_back_at set) / bad_rating cases opened in P, less withdrawn
差评及时回访率 = called back by the end of first_due / the same denominator
整改率         = closed with a rectification (non-empty) / the same denominator
按期整改率     = closed with a rectification and on time (closed_on_time) / the same

``withdrawn``: a bad_rating case whose rating is no longer counted (excluded on appeal, 申诉复核,
or flagged) is no longer a 差评: it stays in the counts but leaves the four denominators.
A rate whose denominator is 0 is null with a reason, never 0 % or 100 %.

The query layer is server/cases/figures_query.py: ``load_groups`` counts the cases in SQL,
grouped by everything the figures read, so the work here is per group, not per case
(docs/benchmarks.md "Dashboard findings"); ``load_rows`` (one row per case) is its reference.
Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from fractions import Fraction
from typing import Any, Literal

from sqlalchemy.orm import Session

from server.calendar import WorkingDays
from server.cases.deadlines import case_days
from server.cases.figures_query import load_groups
from server.cases.figures_rows import CaseRow, office_of
from server.cases.figures_texts import COUNT_TEXTS, KIND_NULL, RATE_TEXTS, Text, bilingual
from server.models.cases import CASE_KINDS
from server.periods import Period, local_day
from server.policy import Policy, fraction_text
from server.scoring import percent_text

__all__ = ["By", "CaseRow", "block", "compute", "figures", "median", "office_of", "rate"]

By = Literal["hall", "department"]


# ---- arithmetic --------------------------------------------------------------------------


def rate(name: str, numerator: int, denominator: int, policy: Policy, null: Text) -> dict[str, Any]:
    """A rate with its numerator, denominator and formula; null with ``null``'s reason when the
    denominator is 0."""
    value = Fraction(numerator, denominator) if denominator else None
    return {
        "numerator": numerator,
        "denominator": denominator,
        "rate": None
        if value is None
        else {"exact": fraction_text(value), "percent": percent_text(value, policy)},
        "formula": bilingual(RATE_TEXTS[name]),
        "null_reason": bilingual(null) if value is None else None,
    }


def median(values: Sequence[Fraction]) -> Fraction | None:
    """The middle value; the mean of the two middle values of an even count; None if empty."""
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def weighted_median(values: Iterable[tuple[int, int]]) -> Fraction | None:
    """``median`` of whole numbers each repeated its count of times, without repeating them:
    the counts are summed per distinct value and only the distinct values are sorted."""
    counts: dict[int, int] = {}
    for v, n in values:
        counts[v] = counts.get(v, 0) + n
    total = sum(counts.values())
    if not total:
        return None
    wanted = [total // 2] if total % 2 else [total // 2 - 1, total // 2]
    found: list[int] = []
    seen = 0
    for v in sorted(counts):
        seen += counts[v]
        while wanted and wanted[0] < seen:
            found.append(v)
            wanted.pop(0)
    return Fraction(sum(found), len(found))


def _number(value: Fraction | None) -> float | None:
    return None if value is None else float(round(value, 2))


def _median_figure(
    name: str, values: Sequence[tuple[int, int]], null: Text, unit: int = 1
) -> dict[str, Any]:
    """The median of ``values`` ((whole number, count) pairs) divided by ``unit``."""
    middle = weighted_median(values)
    value = None if middle is None else middle / unit
    return {
        "value": _number(value),
        "cases": sum(n for _, n in values),
        "formula": bilingual(RATE_TEXTS[name]),
        "null_reason": bilingual(null) if value is None else None,
    }


# ---- the figures of one group of rows ------------------------------------------------------


def _n(rows: Iterable[CaseRow]) -> int:
    return sum(r.n for r in rows)


def _in_opened(r: CaseRow, period: Period) -> bool:
    return r.cohort != "closed" and period.contains_day(r.opened_day)


def _in_closed(r: CaseRow, period: Period) -> bool:
    return r.cohort != "opened" and r.closed_day is not None and period.contains_day(r.closed_day)


def _called_back_on_time(r: CaseRow, period: Period) -> bool:
    if r.callback_on_time is not None:
        return r.callback_on_time
    return r.called_back_at is not None and local_day(r.called_back_at, period.tz) <= (
        r.first_due or r.due
    )


def _kind_block(
    rows: Sequence[CaseRow], kind: str, period: Period, today: date, wd: WorkingDays, policy: Policy
) -> dict[str, Any]:
    opened = [r for r in rows if r.kind == kind and _in_opened(r, period)]
    closed = [r for r in rows if r.kind == kind and _in_closed(r, period)]
    open_now = [r for r in opened if r.is_open]
    overdue_open = _n(r for r in open_now if today > r.due)
    late_of_opened = _n(r for r in opened if not r.is_open and r.closed_on_time is False)
    n_opened, n_closed = _n(opened), _n(closed)
    on_time = _n(r for r in closed if r.closed_on_time is True)
    satisfied = _n(r for r in closed if r.feedback == "satisfied")
    dissatisfied = _n(r for r in closed if r.feedback == "dissatisfied")
    # Working days per distinct (opened, closed) pair: a day's working status is slow to look
    # up (chinese-calendar checks its range on every call) and the pairs repeat.
    spans = {(r.opened_day, r.closed_day) for r in closed if r.closed_day}
    between = {pair: wd.between(*pair) for pair in spans}
    days = [(between[(r.opened_day, r.closed_day)], r.n) for r in closed if r.closed_day]
    # Whole seconds; their median over 3600 is the median of the hours.
    seconds = [
        (int((r.closed_at - r.opened_at).total_seconds()), r.n)
        for r in closed
        if r.closed_at is not None
    ]
    block: dict[str, Any] = {
        "opened": n_opened,
        "open": _n(open_now),
        "overdue_open": overdue_open,
        "overdue_closed": late_of_opened,
        "overdue": overdue_open + late_of_opened,
        "extended": _n(r for r in opened if r.extended_days > 0),
        "escalated": _n(r for r in opened if r.escalated),
        "closed": n_closed,
        "closed_on_time": on_time,
        "closed_late": _n(r for r in closed if r.closed_on_time is False),
        "closed_on_time_rate": rate("closed_on_time_rate", on_time, n_closed, policy, KIND_NULL),
        "median_days_to_close": _median_figure("median_days_to_close", days, KIND_NULL),
        "median_hours_to_close": _median_figure("median_hours_to_close", seconds, KIND_NULL, 3600),
        "satisfaction": {
            "satisfied": satisfied,
            "dissatisfied": dissatisfied,
            "no_feedback": n_closed - satisfied - dissatisfied,
            "rate": rate(
                "satisfaction_rate", satisfied, satisfied + dissatisfied, policy, KIND_NULL
            ),
        },
    }
    if kind == "bad_rating":
        counted = [r for r in opened if not r.withdrawn]
        block.update(
            withdrawn=n_opened - _n(counted),
            called_back=_n(r for r in counted if r.called_back_at is not None),
            called_back_on_time=_n(r for r in counted if _called_back_on_time(r, period)),
            rectified=_n(r for r in counted if r.rectified and not r.is_open),
            rectified_on_time=_n(
                r for r in counted if r.rectified and not r.is_open and r.closed_on_time is True
            ),
        )
    return block


def block(
    rows: Sequence[CaseRow], period: Period, today: date, wd: WorkingDays, policy: Policy
) -> dict[str, Any]:
    """The figures of ``rows``: the four 差评 rates, then each kind's counts."""
    kinds = {k: _kind_block(rows, k, period, today, wd, policy) for k in CASE_KINDS}
    bad = kinds["bad_rating"]
    base = bad["opened"] - bad["withdrawn"]
    null = RATE_TEXTS["no_bad_rating"]
    return {
        "callback_rate": rate("callback_rate", bad["called_back"], base, policy, null),
        "callback_on_time_rate": rate(
            "callback_on_time_rate", bad["called_back_on_time"], base, policy, null
        ),
        "rectification_rate": rate("rectification_rate", bad["rectified"], base, policy, null),
        "rectification_on_time_rate": rate(
            "rectification_on_time_rate", bad["rectified_on_time"], base, policy, null
        ),
        "kinds": kinds,
    }


def group_key(row: CaseRow, by: By) -> tuple[str, str | None]:
    return (row.hall, row.office if by == "department" else None)


def compute(
    rows: Iterable[CaseRow],
    period: Period,
    today: date,
    wd: WorkingDays,
    policy: Policy,
    by: By = "hall",
) -> dict[str, Any]:
    """The scope's figures (``total``) and one item per hall or per (hall, office) with cases
    in either cohort, sorted by hall code then office code (no office last)."""
    wd = case_days(wd)
    rows = [r for r in rows if _in_opened(r, period) or _in_closed(r, period)]
    groups: dict[tuple[str, str | None], list[CaseRow]] = {}
    for r in rows:
        groups.setdefault(group_key(r, by), []).append(r)
    items = []
    for key in sorted(groups, key=lambda k: (k[0], k[1] is None, k[1] or "")):
        first = groups[key][0]
        item: dict[str, Any] = {"hall": key[0], "hall_name": first.hall_name}
        if by == "department":
            item.update(department=key[1], department_name=first.office_name if key[1] else "")
        item.update(block(groups[key], period, today, wd, policy))
        items.append(item)
    return {
        "total": block(rows, period, today, wd, policy),
        "items": items,
        "definitions": {k: bilingual(v) for k, v in COUNT_TEXTS.items()},
    }


def figures(
    session: Session,
    policy: Policy,
    period: Period,
    hall_ids: Sequence[int] | None,
    *,
    now: datetime,
    wd: WorkingDays,
    by: By = "hall",
) -> dict[str, Any]:
    """``compute`` over ``load_groups``, with the day it was judged on and the policy."""
    today = local_day(now, policy.timezone)
    rows = load_groups(session, period, hall_ids, today)
    body = compute(rows, period, today, wd, policy, by)
    return {
        "as_of": now.isoformat().replace("+00:00", "Z"),
        "as_of_day": today.isoformat(),
        "by": by,
        **body,
        "policy": {
            "cases": policy.cases.describe(),
            "timezone": policy.timezone,
            "calendar": policy.calendar,
        },
    }
