"""The score and ranking results the API answers with (GET /api/v1/scores, /rankings), as plain
functions of a session, the policy, a period and scope filters.

The routes (server/api/scores.py, rankings.py) and the publications (server/reports/) both call
these, so a report's every number is the API's own.
"""

from __future__ import annotations

from collections import OrderedDict
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import scoring
from server.aggregates import Counts, Filters, GroupBy, counts, grouped_counts
from server.models import Department, Hall, Staff, Window
from server.periods import Period
from server.policy import Policy

_MODELS: dict[str, Any] = {
    "window": (Window, Window.code),
    "staff": (Staff, Staff.number),
    "department": (Department, Department.code),
}


def describe_period(p: Period) -> dict[str, Any]:
    return {
        "label": p.label,
        "kind": p.kind,
        "start": p.start.isoformat(),
        "end_inclusive": p.end_inclusive.isoformat(),
        "timezone": p.tz,
    }


def period_score(
    session: Session, policy: Policy, p: Period, filters: Filters
) -> scoring.ScoreResult:
    """The weighted score of ``filters`` over ``p`` from the aggregates: GET /scores' result,
    the publications' and the lobby screen's (server/lobby)."""
    counted, excluded = counts(session, p.start, p.end, filters)
    return scoring.score(counted, policy, excluded)


def score_view(
    session: Session, policy: Policy, p: Period, filters: Filters, scope: dict[str, Any]
) -> dict[str, Any]:
    """The body of GET /api/v1/scores: per-channel level counts and rates, the weighted score,
    missing channels, the policy; a year also gets the sum of its four quarterly scores (the
    rule) and their mean."""
    out: dict[str, Any] = {
        "scope": scope,
        "period": describe_period(p),
        "result": period_score(session, policy, p, filters).to_dict(),
    }
    if p.kind == "year":
        quarters = {}
        for q, qp in enumerate(p.quarters(), start=1):
            qc, qx = counts(session, qp.start, qp.end, filters)
            quarters[q] = scoring.score(qc, policy, qx)
        out["year"] = scoring.year_score(quarters, policy).to_dict()
    return out


def members(session: Session, by: str, filters: Filters) -> dict[int, dict[str, Any]]:
    """Every member of the ranked kind in scope, so members without data are listed too."""
    if by == "hall":
        stmt = select(Hall.id, Hall.code, Hall.name, Hall.code)
        if filters.hall_ids is not None:
            stmt = stmt.where(Hall.id.in_(filters.hall_ids))
    else:
        model, code_col = _MODELS[by]
        stmt = select(model.id, code_col, model.name, Hall.code).join(
            Hall, Hall.id == model.hall_id
        )
        if filters.hall_ids is not None:
            stmt = stmt.where(model.hall_id.in_(filters.hall_ids))
    return {
        i: {"id": i, "code": code, "name": name, "hall": hall}
        for i, code, name, hall in session.execute(stmt)
    }


class ScoreMemo:
    """Scores of count sets already seen, under the app's one policy.

    A score is a pure function of (counts, excluded, policy), and most windows' counts do not
    change between two ranking requests (past quarters never do), so a ranking re-scores only
    the windows whose counts moved.
    """

    def __init__(self, policy: Policy, size: int = 50_000) -> None:
        self.policy = policy
        self.size = size
        self.entries: OrderedDict[Any, tuple[Fraction | None, dict[str, Any]]] = OrderedDict()

    def get(self, counted: Counts, excluded: Counts) -> tuple[Fraction | None, dict[str, Any]]:
        key = (_frozen(counted), _frozen(excluded))
        hit = self.entries.get(key)
        if hit is not None:
            self.entries.move_to_end(key)
            return hit
        result = scoring.score(counted, self.policy, excluded)
        value = (
            result.score.value,
            {
                "score": result.score.to_dict(self.policy),
                "alt_score": result.alt_score.to_dict(self.policy),
                "interval95": result.interval95(),
                "counted_total": result.counted_total,
                "excluded_total": result.excluded_total,
                "missing_groups": list(result.missing_groups),
                "below_min_sample": list(result.below_min_sample),
            },
        )
        self.entries[key] = value
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return value


def _frozen(counts: Counts) -> tuple[Any, ...]:
    # Not sorted: equal keys still mean equal counts; another order only costs a cache miss.
    return tuple((ch, tuple(lv.items())) for ch, lv in counts.items())


def ranking_view(
    session: Session,
    policy: Policy,
    p: Period,
    filters: Filters,
    scope: dict[str, Any],
    by: GroupBy,
    memo: ScoreMemo | None = None,
    with_counts: bool = False,
) -> dict[str, Any]:
    """The body of GET /api/v1/rankings: ranked by weighted score, highest first; members
    without a score come last. ``with_counts`` adds each item's counted level counts per
    channel under ``"counted"`` (the reports' appraisal sheet; not in the API's answer)."""
    memo = memo if memo is not None and memo.policy is policy else ScoreMemo(policy)
    groups = grouped_counts(session, p.start, p.end, filters, by=by)
    empty: Counts = {}
    items = []
    for member_id, member in members(session, by, filters).items():
        counted, excluded = groups.get(member_id, (empty, empty))
        value, parts = memo.get(counted, excluded)
        if with_counts:
            parts = {**parts, "counted": counted}
        items.append((value, member, parts))
    # By code, then (stable) by score descending; members without a score go last.
    items.sort(key=lambda it: it[1]["code"])
    scored = [(v, m, parts) for v, m, parts in items if v is not None]
    scored.sort(key=lambda it: it[0], reverse=True)
    items = [*scored, *((v, m, parts) for v, m, parts in items if v is None)]
    ranked = []
    previous: Fraction | None = None
    rank = 0
    for position, (value, member, parts) in enumerate(items, start=1):
        if value is not None and value != previous:
            rank, previous = position, value
        ranked.append({"rank": rank if value is not None else None, **member, **parts})
    unassigned = groups.get(0)
    return {
        "by": by,
        "scope": scope,
        "period": describe_period(p),
        "items": ranked,
        # Evaluations with no member of this kind (e.g. no window): reported, not ranked.
        "unassigned_total": sum(sum(lv.values()) for lv in unassigned[0].values())
        if unassigned
        else 0,
        "policy": policy.describe(),
    }
