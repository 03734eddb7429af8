"""Pure bucketing of GET /api/v1/trends (server/trends/buckets.py): buckets partition the
period, each is one day, one ISO week or one calendar month clipped to it, at most 400."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.trends.buckets import (
    MAX_BUCKETS,
    Grain,
    TooManyBuckets,
    bucket_count,
    buckets,
    per_bucket,
)

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
grains = st.sampled_from(["day", "week", "month"])


def _key(d: date, grain: Grain) -> tuple[int, ...]:
    """Which bucket a day belongs to, computed another way."""
    if grain == "day":
        return (d.toordinal(),)
    if grain == "week":
        return tuple(d.isocalendar())[:2]
    return (d.year, d.month)


@given(days, st.integers(1, 1500), grains)
def test_buckets_partition_the_period(start: date, n_days: int, grain: Grain) -> None:
    end = min(start + timedelta(days=n_days), date(2100, 1, 1))
    every = [start + timedelta(days=i) for i in range((end - start).days)]
    distinct = len({_key(d, grain) for d in every})
    assert bucket_count(start, end, grain) == distinct
    if distinct > MAX_BUCKETS:
        with pytest.raises(TooManyBuckets, match=f"has {distinct} buckets; at most 400"):
            buckets(start, end, grain)
        return
    bs = buckets(start, end, grain)
    assert len(bs) == distinct
    assert bs[0].first == start and bs[-1].last == end - timedelta(days=1)
    for a, b in pairwise(bs):
        assert b.first == a.last + timedelta(days=1)
    for b in bs:
        assert b.first <= b.last
        assert _key(b.first, grain) == _key(b.last, grain)  # one day, ISO week or month
        assert _key(b.first - timedelta(days=1), grain) != _key(b.first, grain) or b.first == start
        assert _key(b.last + timedelta(days=1), grain) != _key(b.last, grain) or b.last == every[-1]


def test_labels() -> None:
    assert [b.label for b in buckets(date(2026, 12, 31), date(2027, 1, 2), "day")] == [
        "2026-12-31",
        "2027-01-01",
    ]
    assert [b.label for b in buckets(date(2026, 12, 31), date(2027, 1, 5), "week")] == [
        "2026-W53",
        "2027-W01",
    ]
    assert [b.label for b in buckets(date(2026, 11, 15), date(2027, 1, 2), "month")] == [
        "2026-11",
        "2026-12",
        "2027-01",
    ]
    assert buckets(date(2026, 11, 2), date(2026, 11, 2), "day") == []


def test_the_limit_message_names_grain_period_and_limit() -> None:
    with pytest.raises(TooManyBuckets) as exc:
        buckets(date(2026, 1, 1), date(2027, 2, 6), "day", "2026-01-01..2027-02-05")
    assert str(exc.value) == (
        "a day grain over 2026-01-01..2027-02-05 has 401 buckets; at most 400: "
        "choose a coarser grain or a shorter period"
    )
    assert len(buckets(date(2026, 1, 1), date(2027, 2, 5), "day")) == 400


@given(
    st.dictionaries(
        st.dates(min_value=date(2026, 9, 25), max_value=date(2027, 1, 10)),
        st.tuples(st.integers(0, 5), st.integers(0, 3)),
    ),
    grains,
)
def test_per_bucket_sums_the_days_inside_the_period(
    day_counts: dict[date, tuple[int, int]], grain: Grain
) -> None:
    start, end = date(2026, 10, 1), date(2027, 1, 1)
    bs = buckets(start, end, grain)
    per_day = {
        d: ({"evaluator": {"satisfied": s}} if s else {}, {"sms": {"dissatisfied": x}} if x else {})
        for d, (s, x) in day_counts.items()
    }
    sums = per_bucket(per_day, bs)
    assert len(sums) == len(bs)
    for b, (counted, excluded) in zip(bs, sums, strict=True):
        inside = [v for d, v in day_counts.items() if b.first <= d <= b.last]
        assert counted.get("evaluator", {}).get("satisfied", 0) == sum(s for s, _ in inside)
        assert excluded.get("sms", {}).get("dissatisfied", 0) == sum(x for _, x in inside)
