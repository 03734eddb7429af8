"""The bodies of GET /api/v1/trends and /api/v1/heatmap, from the aggregate tables only.

Trends: one query for the whole period grouped by day (server/aggregates_read.py ``per_day``:
the hourly grain for whole halls, the daily grain for a department, window or staff member),
then pure bucketing (buckets.py) and ``scoring.score`` per bucket, so that every bucket equals
GET /api/v1/scores over its own days. The heat map: one query of the hourly grain, grouped by
weekday and hour.
"""

from __future__ import annotations

from collections import OrderedDict
from contextlib import suppress
from typing import Any

from sqlalchemy.orm import Session

from server import scoring
from server.aggregates_read import Counts, Filters, per_day, weekday_hour_cells
from server.periods import Period
from server.policy import Policy
from server.results import describe_period
from server.trends.buckets import Bucket, Grain, buckets, per_bucket

_GROUP_FIELDS = ("rate", "satisfied", "total", "has_data", "below_min_sample")


class BucketMemo:
    """A bucket's figures by its counts, under one policy: equal counts give equal figures,
    and most buckets (past days, empty days) repeat between requests."""

    def __init__(self, policy: Policy, size: int = 20_000) -> None:
        self.policy = policy
        self.size = size
        self.entries: OrderedDict[Any, dict[str, Any]] = OrderedDict()

    def get(self, counted: Counts, excluded: Counts) -> dict[str, Any]:
        key = (_frozen(counted), _frozen(excluded))
        hit = self.entries.get(key)
        if hit is not None:
            with suppress(KeyError):  # another request's eviction may have come between
                self.entries.move_to_end(key)
            return hit
        value = bucket_figures(scoring.score(counted, self.policy, excluded))
        self.entries[key] = value
        if len(self.entries) > self.size:
            with suppress(KeyError):
                self.entries.popitem(last=False)
        return value


def _frozen(counts: Counts) -> tuple[Any, ...]:
    return tuple(sorted((ch, tuple(sorted(lv.items()))) for ch, lv in counts.items()))


def bucket_figures(result: scoring.ScoreResult) -> dict[str, Any]:
    """A bucket's score, alternative score, totals, groups and channel totals, each exactly as
    GET /api/v1/scores' ``result`` gives it."""
    p = result.policy
    return {
        "score": result.score.to_dict(p),
        "alt_score": result.alt_score.to_dict(p),
        "counted_total": result.counted_total,
        "excluded_total": result.excluded_total,
        "groups": [
            {"name": g.name, **{k: v for k, v in g.to_dict(p).items() if k in _GROUP_FIELDS}}
            for g in result.groups
        ],
        "channels": {ch: t.total for ch, t in result.channels.items()},
    }


def trend_buckets(p: Period, grain: Grain) -> list[Bucket]:
    """The period's buckets; TooManyBuckets past the limit (checked before any query)."""
    return buckets(p.start, p.end, grain, p.label)


def trends_view(
    session: Session,
    policy: Policy,
    p: Period,
    filters: Filters,
    scope: dict[str, Any],
    grain: Grain,
    memo: BucketMemo | None = None,
) -> dict[str, Any]:
    bs = trend_buckets(p, grain)
    memo = memo if memo is not None and memo.policy is policy else BucketMemo(policy)
    days = per_day(session, p.start, p.end, filters)
    out = []
    for b, (counted, excluded) in zip(bs, per_bucket(days, bs), strict=True):
        out.append(
            {
                "label": b.label,
                "from": b.first.isoformat(),
                "to": b.last.isoformat(),
                **memo.get(counted, excluded),
            }
        )
    return {
        "scope": scope,
        "period": describe_period(p),
        "grain": grain,
        "policy": policy.describe(),
        "buckets": out,
    }


def heatmap_view(
    session: Session,
    policy: Policy,
    p: Period,
    hall_id: int,
    scope: dict[str, Any],
    channel: str | None = None,
) -> dict[str, Any]:
    """Counted evaluations per ISO weekday (Monday = 1) and hall-local hour, and their 差评
    (the policy's [cases] bad_levels), of one hall over the period."""
    bad_levels = tuple(policy.cases.bad_levels)
    votes = [[0] * 24 for _ in range(7)]
    bad = [[0] * 24 for _ in range(7)]
    channels = (channel,) if channel else None
    cells = weekday_hour_cells(session, p.start, p.end, (hall_id,), channels)
    for weekday, hour, levels in cells:
        votes[weekday - 1][hour] = sum(levels.values())
        bad[weekday - 1][hour] = sum(n for lv, n in levels.items() if lv in bad_levels)
    return {
        "scope": {**scope, "channel": channel},
        "period": describe_period(p),
        "timezone": policy.timezone,
        "weekdays": list(range(1, 8)),
        "hours": list(range(24)),
        "votes": votes,
        "bad": bad,
        "bad_levels": list(bad_levels),
        "total": sum(map(sum, votes)),
        "bad_total": sum(map(sum, bad)),
    }


__all__ = ["BucketMemo", "bucket_figures", "heatmap_view", "trends_view"]
