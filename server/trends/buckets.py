"""Pure bucketing of a period's days for GET /api/v1/trends: a day, an ISO week (Monday..Sunday)
or a calendar month, each clipped to the period; and the per-day counts summed per bucket."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from server.scoring import add_counts

Grain = Literal["day", "week", "month"]
GRAINS: tuple[Grain, ...] = ("day", "week", "month")
MAX_BUCKETS = 400

Counts = dict[str, dict[str, int]]


class TooManyBuckets(ValueError):
    """More buckets than MAX_BUCKETS; the message names the grain, period and limit."""


@dataclass(frozen=True)
class Bucket:
    label: str  # "2026-11-03" | "2026-W45" | "2026-11"
    first: date  # clipped to the period
    last: date  # inclusive, clipped to the period


def _next_start(d: date, grain: Grain) -> date:
    """The first day of the bucket after the one holding ``d``."""
    if grain == "day":
        return d + timedelta(days=1)
    if grain == "week":
        return d + timedelta(days=7 - d.weekday())
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def _label(d: date, grain: Grain) -> str:
    if grain == "day":
        return d.isoformat()
    if grain == "week":
        year, week, _ = d.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{d.year}-{d.month:02d}"


def bucket_count(start: date, end: date, grain: Grain) -> int:
    """How many buckets [start, end) has (end exclusive)."""
    if end <= start:
        return 0
    last = end - timedelta(days=1)
    if grain == "day":
        return (end - start).days
    if grain == "week":
        monday = start - timedelta(days=start.weekday())
        return (last - monday).days // 7 + 1
    return (last.year - start.year) * 12 + last.month - start.month + 1


def buckets(start: date, end: date, grain: Grain, label: str | None = None) -> list[Bucket]:
    """The buckets of the days [start, end), in order. ``label`` names the period in the
    error when there are more than MAX_BUCKETS."""
    n = bucket_count(start, end, grain)
    if n > MAX_BUCKETS:
        over = label or f"{start.isoformat()}..{(end - timedelta(days=1)).isoformat()}"
        raise TooManyBuckets(
            f"a {grain} grain over {over} has {n} buckets; at most {MAX_BUCKETS}: "
            "choose a coarser grain or a shorter period"
        )
    out = []
    d = start
    while d < end:
        nxt = min(_next_start(d, grain), end)
        out.append(Bucket(_label(d, grain), d, nxt - timedelta(days=1)))
        d = nxt
    return out


def per_bucket(
    days: Mapping[date, tuple[Counts, Counts]], bs: list[Bucket]
) -> list[tuple[Counts, Counts]]:
    """(counted, excluded) counts per bucket: the sum of its days' counts. Days outside every
    bucket are ignored."""
    firsts = [b.first for b in bs]
    parts: list[list[tuple[Counts, Counts]]] = [[] for _ in bs]
    for day, pair in days.items():
        i = bisect_right(firsts, day) - 1
        if i >= 0 and day <= bs[i].last:
            parts[i].append(pair)
    return [
        (add_counts(*(c for c, _ in ps)), add_counts(*(x for _, x in ps))) if ps else ({}, {})
        for ps in parts
    ]
