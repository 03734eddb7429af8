"""GET /api/v1/scores: the weighted 30/30/40 score of one scope over one period."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from server.api.deps import CurrentUser, PolicyDep, SessionDep
from server.api.scope import resolve_period, resolve_scope
from server.results import score_view

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
    return score_view(session, policy, p, scope.filters, scope.described)
