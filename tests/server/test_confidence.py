"""The score's 95 % band (server/confidence.py, docs/scoring.md "Confidence"): the Wilson
interval of each channel group combined with the effective weights, in /scores and /rankings."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from server.confidence import band, wilson
from server.policy import CHANNELS, LEVELS, Policy
from server.scoring import percent_text, score
from tests.server.conftest import Server, evaluation

SETTINGS = settings(max_examples=200, deadline=None)
counts_st = st.dictionaries(
    st.sampled_from(CHANNELS),
    st.dictionaries(st.sampled_from(LEVELS), st.integers(0, 400), max_size=5),
    max_size=6,
)
policy_st = st.builds(
    Policy,
    satisfied_levels=st.lists(st.sampled_from(LEVELS), min_size=1, unique=True).map(tuple),
    ballot_box_on_site=st.booleans(),
    missing_group=st.sampled_from(["renormalise", "zero", "none"]),
)


def textbook(satisfied: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson interval as textbooks write it, in floats, from p̂ (not the module's form)."""
    p = satisfied / total
    denominator = 1 + z * z / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return (centre - spread) / denominator, (centre + spread) / denominator


def test_wilson_of_8_out_of_10_is_the_known_interval() -> None:
    low, high = textbook(8, 10)
    assert (round(low * 100, 2), round(high * 100, 2)) == (49.02, 94.33)  # the published value
    exact_low, exact_high = wilson(8, 10)
    assert abs(float(exact_low) - low) < 1e-12 and abs(float(exact_high) - high) < 1e-12
    policy = Policy.default()
    assert (percent_text(exact_low, policy), percent_text(exact_high, policy)) == (
        "49.02",
        "94.33",
    )


def test_wilson_at_the_ends_is_exact() -> None:
    # 0/n: low is exactly 0, high = z²/(n + z²); n/n: high is exactly 1.
    z2 = Fraction(196, 100) ** 2
    assert wilson(0, 10) == (Fraction(0), z2 / (10 + z2))
    assert wilson(10, 10) == (10 / (10 + z2), Fraction(1))


@SETTINGS
@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_agrees_with_the_textbook_formula(pair: tuple[int, int]) -> None:
    satisfied, total = pair
    low, high = wilson(satisfied, total)
    t_low, t_high = textbook(satisfied, total)
    assert abs(float(low) - t_low) < 1e-9 and abs(float(high) - t_high) < 1e-9
    assert 0 <= low <= Fraction(satisfied, total) <= high <= 1


@SETTINGS
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_the_band_narrows_as_n_grows_for_the_same_rate(pair: tuple[int, int]) -> None:
    satisfied, total = pair
    widths = []
    for k in (1, 2, 3, 10):
        low, high = wilson(satisfied * k, total * k)
        widths.append(high - low)
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == len(widths)


def _dec(text: str | None) -> Decimal:
    assert text is not None
    return Decimal(text)


@SETTINGS
@given(counts_st, policy_st)
def test_low_le_score_le_high_within_0_and_100(counts: Any, policy: Policy) -> None:
    r = score(counts, policy)
    out = r.to_dict()
    if r.score.value is None:
        assert out["interval95"] is None
        return
    groups = [(g.effective_weight, g.tally.satisfied, g.tally.total) for g in r.groups]
    found = band(groups)
    assert found is not None
    low, high = found
    assert 0 <= low <= r.score.value <= high <= 1
    shown = out["interval95"]
    assert shown["method"] == "wilson"
    assert 0 <= _dec(shown["low"]) <= _dec(out["score"]["percent"]) <= _dec(shown["high"]) <= 100
    # Σ w·low_g and Σ w·high_g over the groups with data, with the effective weights
    expected_low = sum(
        (
            g.effective_weight * wilson(g.tally.satisfied, g.tally.total)[0]
            for g in r.groups
            if g.effective_weight and g.tally.total
        ),
        Fraction(0),
    )
    assert low == expected_low


def test_weighted_band_by_hand() -> None:
    # on-site 8/10, SMS 30/30, phone 5/10 under 30/30/40: each group's Wilson band, weighted.
    r = score(
        {
            "evaluator": {"satisfied": 8, "dissatisfied": 2},
            "sms": {"satisfied": 30},
            "phone": {"very_satisfied": 5, "dissatisfied": 5},
        },
        Policy.default(),
    )
    parts = [(0.3, 8, 10), (0.3, 30, 30), (0.4, 5, 10)]
    low = sum(w * textbook(s, n)[0] for w, s, n in parts)
    high = sum(w * textbook(s, n)[1] for w, s, n in parts)
    shown = r.to_dict()["interval95"]
    assert shown == {"low": f"{low * 100:.2f}", "high": f"{high * 100:.2f}", "method": "wilson"}
    assert r.to_dict()["score"]["percent"] == "74.00"


def test_renormalised_band_uses_the_effective_weights() -> None:
    # No phone: on-site and SMS weigh 50 % each.
    r = score(
        {"evaluator": {"satisfied": 8, "dissatisfied": 2}, "sms": {"satisfied": 30}},
        Policy.default(),
    )
    assert r.score.basis == "renormalised"
    low = 0.5 * textbook(8, 10)[0] + 0.5 * textbook(30, 30)[0]
    assert r.to_dict()["interval95"]["low"] == f"{low * 100:.2f}"


def test_no_score_no_interval() -> None:
    assert score({}, Policy.default()).to_dict()["interval95"] is None
    # Only a group of weight 0 (online) has data: no weighted score, no band.
    assert score({"online": {"satisfied": 3}}, Policy.default()).to_dict()["interval95"] is None


def _ingest_windows(server: Server) -> None:
    records = []
    for window, satisfied, bad in (("A01", 18, 2), ("A02", 3, 1)):
        for i in range(satisfied + bad):
            level = "satisfied" if i < satisfied else "dissatisfied"
            records.append(evaluation(f"{window}:{i}", window=window, level=level))
    server.ingest(records)


def test_scores_and_rankings_carry_the_band(server: Server) -> None:
    _ingest_windows(server)
    r = server.client.get("/api/v1/scores?hall=H1&period=2026Q4", headers=server.admin)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    low, high = textbook(21, 24)  # on-site only (renormalised to 100 %)
    assert result["interval95"] == {
        "low": f"{low * 100:.2f}",
        "high": f"{high * 100:.2f}",
        "method": "wilson",
    }
    r = server.client.get("/api/v1/rankings?hall=H1&period=2026Q4", headers=server.admin)
    assert r.status_code == 200, r.text
    items = {it["code"]: it for it in r.json()["items"]}
    for code, (s, n) in (("A01", (18, 20)), ("A02", (3, 4))):
        it = items[code]
        low, high = textbook(s, n)
        assert it["interval95"] == {
            "low": f"{low * 100:.2f}",
            "high": f"{high * 100:.2f}",
            "method": "wilson",
        }
        assert _dec(it["interval95"]["low"]) <= _dec(it["score"]["percent"])
        assert _dec(it["score"]["percent"]) <= _dec(it["interval95"]["high"])
        one = server.client.get(
            f"/api/v1/scores?hall=H1&window={code}&period=2026Q4", headers=server.admin
        ).json()["result"]
        assert one["interval95"] == it["interval95"]
    # The smaller sample has the wider band, and it still says below_min_sample as before.
    width = {
        c: _dec(it["interval95"]["high"]) - _dec(it["interval95"]["low"])
        for c, it in items.items()
        if it["interval95"]
    }
    assert width["A02"] > width["A01"]
    assert items["A02"]["below_min_sample"] == ["on_site"]
    assert items["A00"]["interval95"] is None and items["A00"]["rank"] is None


def test_the_numbers_of_docs_scoring_md() -> None:
    # "Confidence": 80 of 100 on site alone; "The result": on-site 100/120, SMS 72/80, phone 18/20.
    low, high = textbook(80, 100)
    assert (f"{low * 100:.2f}", f"{high * 100:.2f}") == ("71.12", "86.66")
    parts = [(0.3, 100, 120), (0.3, 72, 80), (0.4, 18, 20)]
    low = sum(w * textbook(s, n)[0] for w, s, n in parts)
    high = sum(w * textbook(s, n)[1] for w, s, n in parts)
    assert (f"{low * 100:.2f}", f"{high * 100:.2f}") == ("75.10", "94.02")
    r = score(
        {
            "evaluator": {"very_satisfied": 40, "satisfied": 60, "dissatisfied": 20},
            "sms": {"satisfied": 72, "dissatisfied": 8},
            "phone": {"satisfied": 18, "dissatisfied": 2},
        },
        Policy.default(),
    )
    assert r.to_dict()["interval95"] == {"low": "75.10", "high": "94.02", "method": "wilson"}
