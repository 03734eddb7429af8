"""The draw (pure): per-window targets, staff allocation, reserves, one entry per phone,
reproducibility from seed and frame (docs/phone-callbacks.md "Worklists and sampling")."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import date, timedelta
from fractions import Fraction
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from server.callbacks.policy import CallbackPolicy
from server.callbacks.sampling import Candidate, allocate, dedupe_phones, draw

DAY = date(2026, 11, 2)


@st.composite
def frames(draw_: st.DrawFn) -> list[Candidate]:
    n = draw_(st.integers(0, 60))
    windows = draw_(st.lists(st.sampled_from(["A01", "A02", "B01", ""]), min_size=1, max_size=4))
    staff = draw_(st.lists(st.sampled_from(["1001", "1002", "1003", ""]), min_size=1, max_size=4))
    phones = draw_(st.integers(1, max(1, n + 1)))
    ids = draw_(st.lists(st.integers(1, 10_000), min_size=n, max_size=n, unique=True))
    return [
        Candidate(
            ticket_id=tid,
            window=draw_(st.sampled_from(windows)),
            staff=draw_(st.sampled_from(staff)),
            phone_hash=f"h{draw_(st.integers(0, phones))}",
            ticket_day=DAY + timedelta(days=draw_(st.integers(0, 2))),
            reason="sample",
        )
        for tid in ids
    ]


policies = st.one_of(
    st.builds(
        lambda n, o, s: CallbackPolicy(
            modes=("sample",), sample_per_window=n, oversample_percent=o, stratify_by_staff=s
        ),
        st.integers(1, 20),
        st.integers(0, 400),
        st.booleans(),
    ),
    st.builds(
        lambda p, o: CallbackPolicy(modes=("sample",), sample_percent=p, oversample_percent=o),
        st.sampled_from([1, 5, 12.5, 33, 50, 100]),
        st.integers(0, 200),
    ),
)
seeds = st.text("0123456789abcdef", min_size=32, max_size=32)


def _target(available: int, policy: CallbackPolicy) -> int:
    if policy.sample_per_window is not None:
        return min(policy.sample_per_window, available)
    return min(
        math.ceil(Fraction(available) * Fraction(str(policy.sample_percent)) / 100), available
    )


@settings(max_examples=200, deadline=None)
@given(frames(), policies, seeds)
def test_sample_counts_reserves_and_phones(
    frame: list[Candidate], policy: CallbackPolicy, seed: str
) -> None:
    picks = draw(frame, "sample", policy, seed).picks
    kept, _ = dedupe_phones(frame)
    available = Counter(c.window for c in kept)
    planned = Counter(p.window for p in picks if not p.reserve)
    reserves = Counter(p.window for p in picks if p.reserve)
    for window, n in available.items():
        target = _target(n, policy)
        assert planned[window] == target
        assert reserves[window] <= math.ceil(target * policy.oversample_percent / 100)
        assert reserves[window] == min(
            math.ceil(target * policy.oversample_percent / 100), n - target
        )
    # one entry per phone, only frame tickets, each once
    by_id = {c.ticket_id: c for c in frame}
    assert len({by_id[p.ticket_id].phone_hash for p in picks}) == len(picks)
    assert {p.ticket_id for p in picks} <= {c.ticket_id for c in kept}
    # planned first, positions 1..n
    assert [p.position for p in picks] == list(range(1, len(picks) + 1))
    assert all(not a.reserve or b.reserve for a, b in pairwise(picks))


@settings(max_examples=200, deadline=None)
@given(frames(), st.integers(1, 20), seeds)
def test_staff_allocation_within_one_of_the_quota(
    frame: list[Candidate], n: int, seed: str
) -> None:
    policy = CallbackPolicy(modes=("sample",), sample_per_window=n)
    picks = draw(frame, "sample", policy, seed).picks
    kept, _ = dedupe_phones(frame)
    for window in {c.window for c in kept}:
        members = [c for c in kept if c.window == window]
        target = _target(len(members), policy)
        sizes = Counter(c.staff for c in members)
        got = Counter(p.stratum for p in picks if not p.reserve and p.window == window)
        for staff, size in sizes.items():
            quota = Fraction(target * size, len(members))
            assert abs(got[f"{window}|{staff}"] - quota) < 1


@settings(max_examples=100, deadline=None)
@given(frames(), policies, seeds, st.randoms(use_true_random=False))
def test_reproducible_and_independent_of_input_order(
    frame: list[Candidate], policy: CallbackPolicy, seed: str, rnd: random.Random
) -> None:
    shuffled = list(frame)
    rnd.shuffle(shuffled)
    for kind in ("sample", "daily"):
        assert draw(frame, kind, policy, seed) == draw(shuffled, kind, policy, seed)


@settings(max_examples=100, deadline=None)
@given(frames(), seeds)
def test_daily_takes_everyone_once_dissatisfied_first(frame: list[Candidate], seed: str) -> None:
    frame = [
        Candidate(c.ticket_id, c.window, c.staff, c.phone_hash, c.ticket_day, r)
        for c, r in zip(frame, ["served", "dissatisfied"] * len(frame), strict=False)
    ]
    picks = draw(frame, "daily", CallbackPolicy(), seed).picks
    kept, dropped = dedupe_phones(frame)
    assert sorted(p.ticket_id for p in picks) == sorted(c.ticket_id for c in kept)
    assert not any(p.reserve for p in picks)
    reasons = [p.reason for p in picks]
    assert reasons == sorted(reasons, key=lambda r: r != "dissatisfied")
    # the kept ticket of a phone is its earliest
    for c in dropped:
        twin = next(k for k in kept if k.phone_hash == c.phone_hash)
        assert (twin.ticket_day, twin.ticket_id) < (c.ticket_day, c.ticket_id)


def test_different_seeds_draw_differently() -> None:
    frame = [Candidate(i, "A01", "1001", f"h{i}", DAY, "sample") for i in range(1, 101)]
    policy = CallbackPolicy(modes=("sample",), sample_per_window=10)
    a = {p.ticket_id for p in draw(frame, "sample", policy, "0" * 32).picks}
    b = {p.ticket_id for p in draw(frame, "sample", policy, "1" * 32).picks}
    assert a != b


def test_allocate_largest_remainder() -> None:
    assert allocate(10, {"a": 5, "b": 3, "c": 2}) == {"a": 5, "b": 3, "c": 2}
    # quotas 1.5, 0.9, 0.6: floors 1, 0, 0; the two largest remainders (b, c) get one more
    assert allocate(3, {"a": 5, "b": 3, "c": 2}) == {"a": 1, "b": 1, "c": 1}
    assert allocate(0, {"a": 1}) == {"a": 0}
    assert sum(allocate(7, {"a": 1, "b": 1, "c": 1, "d": 10}).values()) == 7
