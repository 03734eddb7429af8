"""What the lobby screen shows, as one JSON-ready mapping (docs/lobby.md "What it shows").

Every number comes from the code of the API (server/results.py): the scores from
``period_score`` (GET /scores), the rankings from ``ranking_view`` (GET /rankings), the periods
from ``resolve_period``; this module
only picks the fields a public screen may show.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from server.aggregates import Filters, GroupBy
from server.api.scope import resolve_period
from server.models import Hall
from server.periods import Period
from server.policy import Policy
from server.results import ScoreMemo, describe_period, period_score, ranking_view


def period_label(kind: str, today: date) -> str:
    """The period label (as GET /scores takes it) of today, this month or this quarter."""
    if kind == "today":
        return today.isoformat()
    if kind == "month":
        return f"{today.year}-{today.month:02d}"
    return f"{today.year}Q{(today.month - 1) // 3 + 1}"


def _score(session: Session, policy: Policy, p: Period, filters: Filters) -> dict[str, Any]:
    result = period_score(session, policy, p, filters)
    score = result.score.to_dict(policy)
    return {
        "period": describe_period(p),
        "score": {"percent": score["percent"], "exact": score["exact"], "basis": score["basis"]},
        "counted_total": result.counted_total,
        "missing_groups": list(result.missing_groups),
        "below_min_sample": list(result.below_min_sample),
    }


def _ranking(
    session: Session, policy: Policy, memo: ScoreMemo, by: GroupBy, p: Period, filters: Filters
) -> dict[str, Any]:
    items = ranking_view(session, policy, p, filters, {}, by, memo)["items"]
    lobby = policy.lobby
    rows = []
    for item in items[: lobby.ranking_size]:
        row: dict[str, Any] = {
            "rank": item["rank"],
            "score": {"percent": item["score"]["percent"], "exact": item["score"]["exact"]},
            "counted_total": item["counted_total"],
            "below_min_sample": item["below_min_sample"],
        }
        if by == "window":
            row["code"] = item["code"]
            row["name"] = item["name"] if lobby.show_window_names else None
        else:  # staff: the name (the policy allows it); the number only for a nameless one
            row["name"] = item["name"] or item["code"]
        rows.append(row)
    return {"by": by, "period": describe_period(p), "total": len(items), "items": rows}


def lobby_data(
    session: Session, policy: Policy, memo: ScoreMemo, hall: Hall, now: datetime
) -> dict[str, Any]:
    """The screen of ``hall`` at ``now``: today's and this quarter's score, today's counted
    votes, the window ranking and (only when the policy allows) the staff ranking."""
    tz = policy.timezone
    today = now.astimezone(policy.tzinfo).date()
    filters = Filters(hall_ids=(hall.id,))
    day = _score(
        session, policy, resolve_period(period_label("today", today), None, None, tz), filters
    )
    quarter = _score(
        session, policy, resolve_period(period_label("quarter", today), None, None, tz), filters
    )
    lobby = policy.lobby
    ranking_period = resolve_period(period_label(lobby.ranking_period, today), None, None, tz)
    out: dict[str, Any] = {
        "hall": {"code": hall.code, "name": hall.name},
        "as_of": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "as_of_local": now.astimezone(policy.tzinfo).strftime("%Y-%m-%d %H:%M:%S"),
        "today": day,
        "quarter": quarter,
        "votes_today": day["counted_total"],
        "windows": _ranking(session, policy, memo, "window", ranking_period, filters),
        "staff": (
            _ranking(session, policy, memo, "staff", ranking_period, filters)
            if lobby.show_staff_names
            else None
        ),
        "min_sample": policy.min_sample,
        "refresh_seconds": lobby.refresh_seconds,
        "policy": policy.name,
    }
    return out
