"""Invariants of the score over random counts and policies (hypothesis)."""

from __future__ import annotations

import decimal
import random
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from server.policy import CHANNELS, LEVELS, Policy
from server.scoring import round_fraction, score

counts_st = st.dictionaries(
    st.sampled_from(CHANNELS),
    st.dictionaries(st.sampled_from(LEVELS), st.integers(0, 500), max_size=5),
    max_size=6,
)
policy_st = st.builds(
    Policy,
    satisfied_levels=st.lists(st.sampled_from(LEVELS), min_size=1, unique=True).map(tuple),
    ballot_box_on_site=st.booleans(),
    missing_group=st.sampled_from(["renormalise", "zero", "none"]),
    min_sample=st.integers(0, 100),
)
SETTINGS = settings(max_examples=200, deadline=None)


def _weighted_rates(r):
    return [g.tally.rate for g in r.groups if g.weight > 0 and g.tally.total]


@SETTINGS
@given(counts_st, policy_st)
def test_rates_and_score_are_within_0_and_1(counts, policy) -> None:
    r = score(counts, policy)
    for t in list(r.channels.values()) + [g.tally for g in r.groups]:
        if t.total:
            assert 0 <= t.rate <= t.alt_rate or not set(policy.satisfied_levels) <= set(
                policy.alt_satisfied_levels
            )
            assert 0 <= t.rate <= 1 and 0 <= t.alt_rate <= 1
        else:
            assert t.rate is None
    if r.score.value is not None:
        assert 0 <= r.score.value <= 1


@SETTINGS
@given(counts_st, policy_st)
def test_renormalised_weights_sum_to_one_and_score_is_a_mean_of_rates(counts, policy) -> None:
    r = score(counts, policy)
    eff = sum((g.effective_weight for g in r.groups), Fraction(0))
    if r.score.basis in ("complete", "renormalised"):
        assert eff == 1
        rates = _weighted_rates(r)
        assert min(rates) <= r.score.value <= max(rates)
    elif r.score.basis == "zero_filled":
        assert eff == 1  # nominal weights kept
        assert r.missing_groups
    else:
        assert r.score.value is None
        assert eff == 0


@SETTINGS
@given(counts_st, policy_st)
def test_missing_groups_are_exactly_the_weighted_groups_without_data(counts, policy) -> None:
    r = score(counts, policy)
    expected = {g.name for g in policy.groups if g.weight > 0} - {
        g.name for g in r.groups if g.tally.total
    }
    assert set(r.missing_groups) == expected
    # never a silent 0 % or 100 %: a score exists only with data, and names what is missing
    if not any(g.tally.total for g in r.groups if g.weight > 0):
        assert r.score.value is None


@SETTINGS
@given(counts_st, policy_st, st.sampled_from(CHANNELS), st.integers(1, 50))
def test_more_satisfied_votes_never_lower_the_score(counts, policy, channel, n) -> None:
    level = policy.satisfied_levels[0]
    before = score(counts, policy)
    more = {ch: dict(levels) for ch, levels in counts.items()}
    more.setdefault(channel, {})
    more[channel][level] = more[channel].get(level, 0) + n
    after = score(more, policy)
    if before.score.value is not None and set(before.missing_groups) == set(after.missing_groups):
        assert after.score.value is not None
        assert after.score.value >= before.score.value


@SETTINGS
@given(counts_st, policy_st, st.randoms(use_true_random=False))
def test_order_of_channels_and_levels_does_not_matter(counts, policy, rnd: random.Random) -> None:
    items = list(counts.items())
    rnd.shuffle(items)
    shuffled = {}
    for ch, levels in items:
        lv_items = list(levels.items())
        rnd.shuffle(lv_items)
        shuffled[ch] = dict(lv_items)
    assert score(shuffled, policy).to_dict() == score(counts, policy).to_dict()


@SETTINGS
@given(counts_st, policy_st, st.integers(2, 7))
def test_scaling_every_count_keeps_the_score(counts, policy, k) -> None:
    scaled = {ch: {lv: n * k for lv, n in levels.items()} for ch, levels in counts.items()}
    assert score(scaled, policy).score == score(counts, policy).score


@SETTINGS
@given(st.integers(0, 300), st.integers(0, 300), st.integers(0, 300), st.integers(0, 300))
def test_moving_votes_between_evaluator_and_ballot_box_keeps_on_site(a, b, c, d) -> None:
    p = Policy.default()
    one = score(
        {
            "evaluator": {"satisfied": a, "dissatisfied": b},
            "ballot_box": {"satisfied": c, "dissatisfied": d},
        },
        p,
    )
    two = score({"evaluator": {"satisfied": a + c, "dissatisfied": b + d}}, p)
    assert one.group("on_site").tally.rate == two.group("on_site").tally.rate
    assert one.score == two.score


@SETTINGS
@given(counts_st, counts_st, policy_st)
def test_excluded_never_changes_the_score(counts, excluded, policy) -> None:
    with_ex = score(counts, policy, excluded=excluded)
    without = score(counts, policy)
    assert with_ex.score == without.score and with_ex.alt_score == without.alt_score
    assert with_ex.excluded_total == sum(sum(v.values()) for v in excluded.values())


@SETTINGS
@given(counts_st)
def test_zero_filled_never_above_renormalised(counts) -> None:
    zero = score(counts, Policy(missing_group="zero")).score.value
    renorm = score(counts, Policy(missing_group="renormalise")).score.value
    assert (zero is None) == (renorm is None)
    if zero is not None and renorm is not None:
        assert zero <= renorm


@settings(max_examples=500, deadline=None)
@given(st.integers(-(10**9), 10**9), st.integers(1, 10**9), st.integers(0, 4))
def test_round_fraction_matches_decimal_half_up(num, den, decimals) -> None:
    ctx = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_UP)
    exact = ctx.divide(decimal.Decimal(num), decimal.Decimal(den))
    expected = exact.quantize(decimal.Decimal(1).scaleb(-decimals), context=ctx)
    assert round_fraction(Fraction(num, den), decimals) == expected
