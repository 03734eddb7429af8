"""GET /api/v1/bad-ratings (docs/api.md "差评 list"): one hall's 差评 of a period, newest first,
a page at a time, with the case that follows each; the rows of the monthly 差评 report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, HTTPException, Query

from server.api.deps import CurrentUser, PolicyDep, SessionDep
from server.api.scope import resolve_period, resolve_scope
from server.badratings.service import NO_CASE, BadFilters, bad_count, bad_rows, items
from server.cases.states import STATES
from server.models.evaluations import CHANNELS
from server.results import describe_period

router = APIRouter(tags=["scores"])

Code = Annotated[str | None, Query(max_length=64)]
Channel = Literal["evaluator", "ballot_box", "sms", "phone", "online", "system_default"]
CaseState = Literal["accepted", "assigned", "handling", "callback", "closed", "returned", "none"]
assert get_args(Channel) == CHANNELS and get_args(CaseState) == (*STATES, NO_CASE)
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000


@router.get("/bad-ratings")
def bad_ratings(
    session: SessionDep,
    caller: CurrentUser,
    policy: PolicyDep,
    hall: Code = None,
    window: Code = None,
    staff: Code = None,
    channel: Channel | None = None,
    case_state: CaseState | None = None,
    period: Annotated[str | None, Query(max_length=32, examples=["2026-11"])] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Counted ratings at the policy's [cases] bad_levels, newest first; ``total`` counts every
    one that matches the filters (the report's 差评数 without filters)."""
    p = resolve_period(period, start, end, policy.timezone)
    scope = resolve_scope(session, caller, hall, window, None, staff)
    if scope.hall is None:
        raise HTTPException(400, "give hall= (the 差评 list is one hall's)")
    f = BadFilters(
        scope.hall.id, scope.filters.window_id, scope.filters.staff_id, channel, case_state
    )
    rows = bad_rows(session, policy, p, f, newest_first=True, limit=limit, offset=offset)
    return {
        "scope": scope.described,
        "period": describe_period(p),
        "bad_levels": list(policy.cases.bad_levels),
        "filters": {"channel": channel, "case_state": case_state},
        "total": bad_count(session, policy, p, f),
        "limit": limit,
        "offset": offset,
        "items": items(rows, policy),
    }
