"""Hand-computed scores: the 30/30/40 rule of seed 000 and every policy switch."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest

from server.policy import Policy
from server.scoring import add_counts, round_fraction, score, year_score

P = Policy.default()

# A quarter of one hall, computed by hand:
#   on-site: evaluator 40 非常满意 + 45 满意 + 5 基本满意 + 10 不满意 = 100,
#            ballot box 15 满意 + 5 基本满意 = 20           -> 满意 100 / 120 = 5/6
#   SMS:     30 非常满意 + 42 满意 + 8 基本满意 = 80          -> 满意 72 / 80 = 9/10
#   phone:   18 满意 + 1 基本满意 + 1 非常不满意 = 20          -> 满意 18 / 20 = 9/10
#   群众满意度 = 5/6 × 30% + 9/10 × 30% + 9/10 × 40% = 1/4 + 27/100 + 9/25 = 22/25 = 88.00%
QUARTER = {
    "evaluator": {
        "very_satisfied": 40,
        "satisfied": 45,
        "basically_satisfied": 5,
        "dissatisfied": 10,
    },
    "ballot_box": {"satisfied": 15, "basically_satisfied": 5},
    "sms": {"very_satisfied": 30, "satisfied": 42, "basically_satisfied": 8},
    "phone": {"satisfied": 18, "basically_satisfied": 1, "very_dissatisfied": 1},
}


def test_30_30_40_hand_calculation() -> None:
    r = score(QUARTER, P)
    assert r.group("on_site").tally.rate == Fraction(5, 6)
    assert r.group("sms").tally.rate == Fraction(9, 10)
    assert r.group("phone").tally.rate == Fraction(9, 10)
    assert r.score.value == Fraction(22, 25)
    assert r.score.basis == "complete"
    d = r.to_dict()
    assert d["score"]["exact"] == "22/25"
    assert d["score"]["percent"] == "88.00"
    assert d["groups"][0]["rate"] == {"exact": "5/6", "percent": "83.33"}
    assert d["missing_groups"] == []
    assert d["channels"]["ballot_box"]["group"] == "on_site"
    assert d["channels"]["ballot_box"]["counts"]["satisfied"] == 15
    assert d["counted_total"] == 220


def test_alternative_rate_counts_basically_satisfied() -> None:
    r = score(QUARTER, P)
    # on-site 110/120, SMS 80/80, phone 19/20:
    # 11/12 × 3/10 + 1 × 3/10 + 19/20 × 2/5 = 11/40 + 3/10 + 19/50 = 191/200
    assert r.group("on_site").tally.alt_rate == Fraction(11, 12)
    assert r.alt_score.value == Fraction(191, 200)
    assert r.to_dict()["alt_score"]["percent"] == "95.50"


def test_satisfied_levels_switch() -> None:
    strict = score(QUARTER, Policy(satisfied_levels=("very_satisfied",)))
    # on-site 40/120, SMS 30/80, phone 0/20 -> 1/3 × 3/10 + 3/8 × 3/10 + 0 = 17/80
    assert strict.score.value == Fraction(17, 80)
    lenient = score(QUARTER, Policy(satisfied_levels=P.alt_satisfied_levels))
    assert lenient.score.value == score(QUARTER, P).alt_score.value


def test_ballot_box_own_channel_switch() -> None:
    r = score(QUARTER, Policy(ballot_box_on_site=False))
    # on-site is now the evaluator alone: 85/100; the ballot box is reported, weight 0.
    assert r.group("on_site").tally.rate == Fraction(17, 20)
    assert r.group("ballot_box").tally.total == 20
    assert r.group("ballot_box").effective_weight == 0
    assert r.score.value == Fraction(17, 20) * Fraction(3, 10) + Fraction(27, 100) + Fraction(9, 25)
    assert "ballot_box" not in r.missing_groups


def test_ballot_box_with_own_weight() -> None:
    p = Policy.model_validate(
        {
            "groups": {
                "evaluator": {"channels": ["evaluator"], "weight": "20%"},
                "ballot_box": {"channels": ["ballot_box"], "weight": "10%"},
                "sms": {"channels": ["sms"], "weight": "30%"},
                "phone": {"channels": ["phone"], "weight": "40%"},
                "other": {"channels": ["online", "system_default"], "weight": 0},
            }
        }
    )
    r = score(QUARTER, p)
    expected = (
        Fraction(17, 20) * Fraction(2, 10)
        + Fraction(15, 20) * Fraction(1, 10)
        + Fraction(27, 100)
        + Fraction(9, 25)
    )
    assert r.score.value == expected


MISSING_PHONE = {k: v for k, v in QUARTER.items() if k != "phone"}


def test_missing_group_renormalise_default() -> None:
    r = score(MISSING_PHONE, P)
    # weights 30:30 over on-site and SMS -> 1/2 each: (5/6 + 9/10) / 2 = 13/15
    assert r.score.value == Fraction(13, 15)
    assert r.score.basis == "renormalised"
    assert r.missing_groups == ("phone",)
    d = r.to_dict()
    assert d["effective_weights"] == {"on_site": "1/2", "sms": "1/2", "phone": "0/1"}
    assert d["missing_groups"] == ["phone"]
    assert "missing:phone" in d["flags"]
    assert d["score"]["percent"] == "86.67"


def test_missing_group_zero() -> None:
    r = score(MISSING_PHONE, Policy(missing_group="zero"))
    assert r.score.value == Fraction(5, 6) * Fraction(3, 10) + Fraction(27, 100)
    assert r.score.basis == "zero_filled"
    assert r.missing_groups == ("phone",)
    assert r.group("phone").effective_weight == Fraction(2, 5)


def test_missing_group_none() -> None:
    r = score(MISSING_PHONE, Policy(missing_group="none"))
    assert r.score.value is None
    assert r.alt_score.value is None
    assert r.score.reason is not None and "phone" in r.score.reason
    d = r.to_dict()
    assert d["score"]["percent"] is None and d["missing_groups"] == ["phone"]
    # the channel rates are still there
    assert d["groups"][0]["rate"]["exact"] == "5/6"


@pytest.mark.parametrize("mode", ["renormalise", "zero", "none"])
def test_no_data_at_all_is_no_score_never_0_or_100(mode: str) -> None:
    r = score({}, Policy(missing_group=mode))  # type: ignore[arg-type]
    assert r.score.value is None
    assert r.score.basis == "none"
    assert set(r.missing_groups) == {"on_site", "sms", "phone"}


def test_zero_weight_channels_are_reported_not_weighted() -> None:
    with_online = {
        **QUARTER,
        "online": {"dissatisfied": 500},
        "system_default": {"basically_satisfied": 9},
    }
    r = score(with_online, P)
    assert r.score.value == Fraction(22, 25)
    assert r.channels["online"].total == 500
    assert r.channels["system_default"].total == 9
    assert r.to_dict()["channels"]["online"]["rate"]["exact"] == "0/1"
    # and a missing weight-0 group is not "missing"
    assert "online" not in score(QUARTER, P).missing_groups


def test_online_weight_is_configurable() -> None:
    p = Policy.model_validate(
        {
            "groups": {
                "on_site": {"channels": ["evaluator", "ballot_box"], "weight": "30%"},
                "sms": {"channels": ["sms"], "weight": "20%"},
                "phone": {"channels": ["phone"], "weight": "40%"},
                "online": {"channels": ["online"], "weight": "10%"},
                "system_default": {"channels": ["system_default"], "weight": 0},
            }
        }
    )
    r = score({**QUARTER, "online": {"satisfied": 1, "dissatisfied": 1}}, p)
    expected = (
        Fraction(5, 6) * Fraction(3, 10)
        + Fraction(9, 10) * Fraction(2, 10)
        + Fraction(9, 10) * Fraction(4, 10)
        + Fraction(1, 2) * Fraction(1, 10)
    )
    assert r.score.value == expected


def test_min_sample_flags_but_does_not_change_the_number() -> None:
    small = score(QUARTER, Policy(min_sample=30))
    none = score(QUARTER, Policy(min_sample=0))
    assert small.score.value == none.score.value
    # phone has 20 evaluations < 30
    assert small.below_min_sample == ("phone",)
    d = small.to_dict()
    assert d["below_min_sample"] == ["phone"]
    assert "below_min_sample:phone" in d["flags"]
    assert d["channels"]["phone"]["below_min_sample"] is True
    assert d["channels"]["sms"]["below_min_sample"] is False
    assert none.below_min_sample == ()


def test_excluded_are_reported_and_never_counted() -> None:
    excluded = {
        "evaluator": {"very_dissatisfied": 7, "dissatisfied": 2},
        "sms": {"dissatisfied": 1},
    }
    r = score(QUARTER, P, excluded=excluded)
    assert r.score.value == Fraction(22, 25)
    assert r.counted_total == 220
    d = r.to_dict()
    assert d["excluded"]["total"] == 10
    assert d["excluded"]["channels"]["evaluator"] == {
        "very_dissatisfied": 7,
        "dissatisfied": 2,
        "total": 9,
    }


def test_excluded_only_is_no_score() -> None:
    r = score({}, P, excluded={"evaluator": {"dissatisfied": 3}})
    assert r.score.value is None
    assert r.to_dict()["excluded"]["total"] == 3


@pytest.mark.parametrize(
    "counts",
    [
        {"fax": {"satisfied": 1}},
        {"sms": {"good": 1}},
        {"sms": {"satisfied": -1}},
        {"sms": {"satisfied": 1.0}},
        {"sms": {"satisfied": True}},
    ],
)
def test_bad_counts_are_refused(counts: dict[str, dict[str, object]]) -> None:
    with pytest.raises(ValueError):
        score(counts, P)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        score({}, P, excluded=counts)  # type: ignore[arg-type]


def test_to_dict_is_json_and_carries_the_policy() -> None:
    d = score(QUARTER, Policy(name="test-policy")).to_dict()
    text = json.dumps(d, ensure_ascii=False)
    assert json.loads(text)["policy"]["name"] == "test-policy"
    assert d["policy"] == Policy(name="test-policy").describe()


# ---- rounding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "decimals", "mode", "expected"),
    [
        (Fraction(2, 3) * 100, 2, "ROUND_HALF_UP", "66.67"),
        (Fraction(1, 8) * 100, 0, "ROUND_HALF_UP", "13"),
        (Fraction(1, 8) * 100, 0, "ROUND_HALF_EVEN", "12"),
        (Fraction(3, 8) * 100, 0, "ROUND_HALF_EVEN", "38"),
        (Fraction(12345, 1000), 2, "ROUND_HALF_UP", "12.35"),
        (Fraction(12345, 1000), 2, "ROUND_HALF_EVEN", "12.34"),
        (Fraction(1), 2, "ROUND_HALF_UP", "1.00"),
        (Fraction(0), 2, "ROUND_HALF_UP", "0.00"),
        (Fraction(-12345, 1000), 2, "ROUND_HALF_UP", "-12.35"),
        # just below a half stays down: no float or precision drift
        (Fraction(10**30 * 125 - 1, 10**33), 2, "ROUND_HALF_UP", "0.12"),
    ],
)
def test_round_fraction(value: Fraction, decimals: int, mode: str, expected: str) -> None:
    assert str(round_fraction(value, decimals, mode)) == expected


def test_display_decimals_and_rounding_switches() -> None:
    counts = {"evaluator": {"satisfied": 1, "dissatisfied": 7}}  # 12.5 %
    up = score(counts, Policy(display_decimals=0)).to_dict()
    even = score(counts, Policy(display_decimals=0, rounding="ROUND_HALF_EVEN")).to_dict()
    assert (up["score"]["percent"], even["score"]["percent"]) == ("13", "12")
    assert score(counts, Policy(display_decimals=3)).to_dict()["score"]["percent"] == "12.500"
    assert up["score"]["exact"] == even["score"]["exact"] == "1/8"


def test_round_fraction_returns_decimal() -> None:
    assert round_fraction(Fraction(1, 3), 4) == Decimal("0.3333")


# ---- the year -----------------------------------------------------------------------------


def test_year_sum_and_mean() -> None:
    q = {
        1: score(QUARTER, P),
        2: score(QUARTER, P),
        3: score(MISSING_PHONE, P),
        4: score(QUARTER, P),
    }
    y = year_score(q, P)
    total = 3 * Fraction(22, 25) + Fraction(13, 15)
    assert y.sum == total
    assert y.mean == total / 4
    d = y.to_dict()
    assert d["sum"]["percent"] == "350.67"  # 264 + 86.666…
    assert d["mean"]["percent"] == "87.67"
    assert d["complete"] is True and d["missing_quarters"] == []
    assert d["quarters"]["3"]["missing_groups"] == ["phone"]
    json.dumps(d)


def test_year_with_missing_quarters() -> None:
    y = year_score({1: score(QUARTER, P), 2: score({}, P)}, P)
    assert y.scored_quarters == (1,)
    assert y.missing_quarters == (2, 3, 4)
    assert y.sum == y.mean == Fraction(22, 25)
    assert y.to_dict()["complete"] is False


def test_year_without_any_score() -> None:
    y = year_score({}, P)
    assert y.sum is None and y.mean is None
    assert y.to_dict()["sum"] is None


def test_year_refuses_mixed_policies_and_bad_keys() -> None:
    with pytest.raises(ValueError, match="another policy"):
        year_score({1: score(QUARTER, Policy(min_sample=1))}, P)
    with pytest.raises(ValueError, match="quarter key"):
        year_score({5: score(QUARTER, P)}, P)


def test_year_sum_is_exact_not_a_sum_of_rounded_quarters() -> None:
    third = {"evaluator": {"satisfied": 1, "dissatisfied": 2}}  # 33.333…% each quarter
    y = year_score({q: score(third, P) for q in (1, 2, 3)}, P)
    assert y.sum == 1
    assert y.to_dict()["sum"]["percent"] == "100.00"  # 3 × 33.33 would say 99.99


def test_add_counts() -> None:
    assert add_counts({"sms": {"satisfied": 1}}, {"sms": {"satisfied": 2, "dissatisfied": 1}}) == {
        "sms": {"satisfied": 3, "dissatisfied": 1}
    }
