"""GET /api/v1/scores: the weighted 30/30/40 score of one scope over one period."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from server import scoring
from server.aggregates import counts
from server.api.deps import CurrentUser, PolicyDep, SessionDep
from server.api.scope import describe_period, resolve_period, resolve_scope

router = APIRouter(tags=["scores"])

Code = Annotated[str | None, Query(max_length=64)]


@router.get("/scores")
def get_score(
    session: SessionDep,
    caller: CurrentUser,
    policy: PolicyDep,
    hall: Code = None,
    window: Code = None,
    department: Code = None,
    staff: Code = None,
    period: Annotated[str | None, Query(max_length=32, examples=["2026Q4"])] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
) -> dict[str, Any]:
    """Per-channel level counts and rates, the weighted score, missing channels, the policy.

    A year also gets the sum of its four quarterly scores (the rule) and their mean.
    """
    p = resolve_period(period, start, end, policy.timezone)
    scope = resolve_scope(session, caller, hall, window, department, staff)
    counted, excluded = counts(session, p.start, p.end, scope.filters)
    out: dict[str, Any] = {
        "scope": scope.described,
        "period": describe_period(p),
        "result": scoring.score(counted, policy, excluded).to_dict(),
    }
    if p.kind == "year":
        quarters = {}
        for q, qp in enumerate(p.quarters(), start=1):
            qc, qx = counts(session, qp.start, qp.end, scope.filters)
            quarters[q] = scoring.score(qc, policy, qx)
        out["year"] = scoring.year_score(quarters, policy).to_dict()
    return out
