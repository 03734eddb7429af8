"""GET /api/v1/rankings: every window (or staff member, department, hall) ranked by score
(server/results.py ``ranking_view``, shared with the publications)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from server.api.deps import CurrentUser, PolicyDep, SessionDep
from server.api.scope import resolve_period, resolve_scope
from server.results import ScoreMemo, ranking_view

router = APIRouter(tags=["scores"])


def score_memo(request: Request, policy: PolicyDep) -> ScoreMemo:
    """The app's memo of scores (one per policy)."""
    memo = getattr(request.app.state, "score_memo", None)
    if memo is None or memo.policy is not policy:
        memo = request.app.state.score_memo = ScoreMemo(policy)
    return memo


MemoDep = Annotated[ScoreMemo, Depends(score_memo)]


@router.get("/rankings", response_class=JSONResponse)
def rankings(
    session: SessionDep,
    caller: CurrentUser,
    policy: PolicyDep,
    memo: MemoDep,
    by: Literal["window", "staff", "department", "hall"] = "window",
    hall: Annotated[str | None, Query(max_length=64)] = None,
    window: Annotated[str | None, Query(max_length=64)] = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    staff: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[str | None, Query(max_length=32, examples=["2026Q4"])] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
) -> JSONResponse:
    """Ranked by weighted score, highest first; members without a score come last. ``window``,
    ``department`` and ``staff`` (need ``hall``) count only that scope's evaluations, e.g. the
    staff members at one window (``by=staff&window=A01``)."""
    p = resolve_period(period, start, end, policy.timezone)
    scope = resolve_scope(session, caller, hall, window, department, staff)
    return JSONResponse(ranking_view(session, policy, p, scope.filters, scope.described, by, memo))
