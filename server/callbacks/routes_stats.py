"""GET /api/v1/callbacks/stats: the phone call-back figures of a hall (or every hall) over a
period (server/callbacks/stats.py; docs/phone-callbacks.md "Figures and formulas")."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from server.api.deps import CurrentUser, PolicyDep, SessionDep
from server.api.scope import describe_period, resolve_period, resolve_scope
from server.callbacks.stats import stats
from server.models.base import utcnow

router = APIRouter(prefix="/callbacks", tags=["phone call-backs"])


@router.get("/stats")
def callback_stats(
    session: SessionDep,
    policy: PolicyDep,
    caller: CurrentUser,
    hall: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[str | None, Query(max_length=32, examples=["2026Q4"])] = None,
    start: Annotated[date | None, Query(alias="from", description="work day")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
) -> dict[str, Any]:
    """Entries of the worklists whose work day is in the period: counts by state, dispositions,
    the response, refusal and contact rates with their formulas, the phone 满意率 (as /scores)
    and each agent's attempts."""
    p = resolve_period(period, start, end, policy.timezone)
    scope = resolve_scope(session, caller, hall)
    hall_ids = (scope.hall.id,) if scope.hall else None
    body = stats(session, p.start, p.end, hall_ids, policy, utcnow())
    return {
        "scope": {"hall": scope.hall.code if scope.hall else None},
        "period": describe_period(p),
        **body,
    }
