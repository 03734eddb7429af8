"""GET /api/v1/cases/figures: 差评回访率, 整改率 and the case counts of a hall (or every hall the
caller sees) over a period, per hall or per office (server/cases/figures.py; docs/cases.md
"Figures")."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from server.api.deps import CurrentUser, PolicyDep, SessionDep
from server.api.scope import describe_period, resolve_period, resolve_scope
from server.calendar import working_days
from server.cases.figures import figures
from server.models.base import utcnow

router = APIRouter(prefix="/cases", tags=["cases"])


@router.get("/figures")
def case_figures(
    session: SessionDep,
    policy: PolicyDep,
    caller: CurrentUser,
    hall: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[str | None, Query(max_length=32, examples=["2026Q4"])] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
    by: Literal["hall", "department"] = "hall",
) -> dict[str, Any]:
    """The 差评 call-back and rectification rates with their formulas, and per kind: opened,
    open, overdue, extended, escalated, closed (on time / late), the median time to close and
    the citizens' 满意 / 不满意 feedback. ``by=department`` gives one item per office."""
    p = resolve_period(period, start, end, policy.timezone)
    scope = resolve_scope(session, caller, hall)
    # A hall-bound account always has scope.hall (its own); None: every hall.
    hall_ids = [scope.hall.id] if scope.hall is not None else None
    body = figures(
        session, policy, p, hall_ids, now=utcnow(), wd=working_days(session, policy), by=by
    )
    head = {"scope": {"hall": scope.hall.code if scope.hall else None}}
    return head | {"period": describe_period(p)} | body
