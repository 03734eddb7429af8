"""GET /api/v1/rankings: every window (or staff member, department, hall) ranked by score."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import scoring
from server.aggregates import Filters, grouped_counts
from server.api.deps import CurrentUser, PolicyDep, SessionDep
from server.api.scope import describe_period, resolve_period, resolve_scope
from server.models import Department, Hall, Staff, Window

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


@router.get("/rankings")
def rankings(
    session: SessionDep,
    caller: CurrentUser,
    policy: PolicyDep,
    by: Literal["window", "staff", "department", "hall"] = "window",
    hall: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[str | None, Query(max_length=32, examples=["2026Q4"])] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
) -> dict[str, Any]:
    """Ranked by weighted score, highest first; members without a score come last."""
    p = resolve_period(period, start, end, policy.timezone)
    scope = resolve_scope(session, caller, hall)
    groups = grouped_counts(session, p.start, p.end, scope.filters, by=by)
    members = _members(session, by, scope.filters)
    items = []
    for member_id, member in members.items():
        counted, excluded = groups.get(member_id, ({}, {}))
        result = scoring.score(counted, policy, excluded)
        items.append((result.score.value, member, result))
    unassigned = groups.get(0)
    items.sort(key=lambda it: (it[0] is None, -(it[0] or Fraction(0)), it[1]["code"]))
    ranked = []
    previous: Fraction | None = None
    rank = 0
    for position, (value, member, result) in enumerate(items, start=1):
        if value is None:
            rank_value = None
        else:
            if value != previous:
                rank = position
                previous = value
            rank_value = rank
        ranked.append(
            {
                "rank": rank_value,
                **member,
                "score": result.score.to_dict(policy),
                "alt_score": result.alt_score.to_dict(policy),
                "counted_total": result.counted_total,
                "excluded_total": result.excluded_total,
                "missing_groups": list(result.missing_groups),
                "below_min_sample": list(result.below_min_sample),
            }
        )
    return {
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
