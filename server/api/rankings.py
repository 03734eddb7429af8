"""GET /api/v1/rankings: every window (or staff member, department, hall) ranked by score."""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from fractions import Fraction
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import scoring
from server.aggregates import Counts, Filters, grouped_counts
from server.api.deps import CurrentUser, PolicyDep, SessionDep
from server.api.scope import describe_period, resolve_period, resolve_scope
from server.models import Department, Hall, Staff, Window
from server.policy import Policy

router = APIRouter(tags=["scores"])

_MODELS: dict[str, Any] = {
    "window": (Window, Window.code),
    "staff": (Staff, Staff.number),
    "department": (Department, Department.code),
}


def _members(session: Session, by: str, filters: Filters) -> dict[int, dict[str, Any]]:
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


def _memo(request: Request, policy: PolicyDep) -> ScoreMemo:
    memo = getattr(request.app.state, "score_memo", None)
    if memo is None or memo.policy is not policy:
        memo = request.app.state.score_memo = ScoreMemo(policy)
    return memo


@router.get("/rankings", response_class=JSONResponse)
def rankings(
    session: SessionDep,
    caller: CurrentUser,
    policy: PolicyDep,
    memo: Annotated[ScoreMemo, Depends(_memo)],
    by: Literal["window", "staff", "department", "hall"] = "window",
    hall: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[str | None, Query(max_length=32, examples=["2026Q4"])] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
) -> JSONResponse:
    """Ranked by weighted score, highest first; members without a score come last."""
    p = resolve_period(period, start, end, policy.timezone)
    scope = resolve_scope(session, caller, hall)
    groups = grouped_counts(session, p.start, p.end, scope.filters, by=by)
    members = _members(session, by, scope.filters)
    empty: Counts = {}
    items = []
    for member_id, member in members.items():
        counted, excluded = groups.get(member_id, (empty, empty))
        value, parts = memo.get(counted, excluded)
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
    return JSONResponse(
        {
            "by": by,
            "scope": scope.described,
            "period": describe_period(p),
            "items": ranked,
            # Evaluations with no member of this kind (e.g. no window): reported, not ranked.
            "unassigned_total": sum(sum(lv.values()) for lv in unassigned[0].values())
            if unassigned
            else 0,
            "policy": policy.describe(),
        }
    )
