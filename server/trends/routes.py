"""GET /api/v1/trends and GET /api/v1/heatmap (docs/api.md "Trends and heat map"): thin routes
over server/trends/service.py, with /scores' login, scope and period rules."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from server.api.deps import CurrentUser, PolicyDep, SessionDep
from server.api.scope import resolve_period, resolve_scope
from server.trends.buckets import Grain, TooManyBuckets
from server.trends.service import BucketMemo, heatmap_view, trends_view

router = APIRouter(tags=["scores"])

Code = Annotated[str | None, Query(max_length=64)]
PeriodText = Annotated[str | None, Query(max_length=32, examples=["2026Q4"])]
From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query(alias="to", description="inclusive")]
# server.policy.CHANNELS (tests/server/test_trends_api.py checks they agree).
Channel = Literal["evaluator", "ballot_box", "sms", "phone", "online", "system_default"]


def bucket_memo(request: Request, policy: PolicyDep) -> BucketMemo:
    """The app's memo of bucket figures (one per policy)."""
    memo = getattr(request.app.state, "trend_memo", None)
    if memo is None or memo.policy is not policy:
        memo = request.app.state.trend_memo = BucketMemo(policy)
    return memo


@router.get("/trends")
def get_trends(
    session: SessionDep,
    caller: CurrentUser,
    policy: PolicyDep,
    memo: Annotated[BucketMemo, Depends(bucket_memo)],
    hall: Code = None,
    window: Code = None,
    department: Code = None,
    staff: Code = None,
    period: PeriodText = None,
    start: From = None,
    end: To = None,
    grain: Grain = "day",
) -> dict[str, Any]:
    """The score, each channel group's rate and the sample sizes per day, ISO week or month of
    the period (at most 400 buckets); each bucket equals /scores over its own days."""
    p = resolve_period(period, start, end, policy.timezone)
    scope = resolve_scope(session, caller, hall, window, department, staff)
    try:
        return trends_view(session, policy, p, scope.filters, scope.described, grain, memo)
    except TooManyBuckets as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/heatmap")
def get_heatmap(
    session: SessionDep,
    caller: CurrentUser,
    policy: PolicyDep,
    hall: Code = None,
    period: PeriodText = None,
    start: From = None,
    end: To = None,
    channel: Channel | None = None,
) -> dict[str, Any]:
    """Counted evaluations and their 差评 of one hall per ISO weekday and hall-local hour."""
    p = resolve_period(period, start, end, policy.timezone)
    scope = resolve_scope(session, caller, hall)
    if scope.hall is None:
        raise HTTPException(422, "give hall=: a heat map is of one hall")
    described = {"hall": scope.hall.code}
    return heatmap_view(session, policy, p, scope.hall.id, described, channel)
