"""The 95 % confidence band of a score (docs/scoring.md "Confidence"): the Wilson score interval
of each channel group's 满意率, combined with the group's effective weight.

Pure functions in exact integers and rationals but for one square root, which is exact when its
argument is a square (every 0 % and 100 % rate) and otherwise rounded up at 10^-30, so the
approximation only ever widens the band, and never by anything a display rounding can show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from math import isqrt

# The two-sided 95 % normal quantile as the textbook rounds it (1.959964 → 1.96): z = 49/25,
# z² = 2401/625, the integers of ``_parts``.
Z95 = Fraction(49, 25)
METHOD = "wilson"
_SCALE = 10**30


def _sqrt_up(n: int) -> tuple[int, int]:
    """√n as (root, scale): exact (scale 1) for a square, else rounded up at 1/10^30."""
    root = isqrt(n)
    if root * root == n:
        return root, 1
    scaled = n * _SCALE * _SCALE
    root = isqrt(scaled)
    return (root if root * root == scaled else root + 1), _SCALE


def _parts(s: int, n: int) -> tuple[int, int, int]:
    """(centre, spread, den): the Wilson interval of s/n at z = 1.96 is
    ((centre − spread) / den, (centre + spread) / den). With z = 49/25,

    (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)
      = (n·(1250·s + 2401) ± 49·√(n·(2500·s·(n−s) + 2401·n))) / (2·n·(625·n + 2401)).
    """
    if n <= 0 or not 0 <= s <= n:
        raise ValueError(f"wilson needs 0 <= satisfied <= total and total > 0 ({s}/{n})")
    root, scale = _sqrt_up(n * (2500 * s * (n - s) + 2401 * n))
    return n * (1250 * s + 2401) * scale, 49 * root, 2 * n * (625 * n + 2401) * scale


def wilson(satisfied: int, total: int) -> tuple[Fraction, Fraction]:
    """The Wilson score interval (low, high) at z = 1.96 of the rate satisfied/total, in 0..1
    (exactly 0 for 0 satisfied, exactly 1 for all)."""
    centre, spread, den = _parts(satisfied, total)
    return Fraction(centre - spread, den), Fraction(centre + spread, den)


def band(groups: Iterable[tuple[Fraction, int, int]]) -> tuple[Fraction, Fraction] | None:
    """(Σ w·low_g, Σ w·high_g) over (effective weight w, satisfied, total) of each group with
    a weight and data; None when there is no such group. Summed in integers, one Fraction at the
    end (as the score, server/scoring.py)."""
    low = high = 0
    den = 1
    seen = False
    for weight, satisfied, total in groups:
        if not weight or not total:
            continue
        centre, spread, d = _parts(satisfied, total)
        a, b = weight.numerator, weight.denominator
        dd = b * d
        low, high = low * dd + a * (centre - spread) * den, high * dd + a * (centre + spread) * den
        den *= dd
        seen = True
    if not seen:
        return None
    return max(Fraction(0), Fraction(low, den)), min(Fraction(1), Fraction(high, den))


def interval95(
    value: Fraction | None,
    groups: Iterable[tuple[Fraction, int, int]],
    percent: Callable[[Fraction], str],
) -> dict[str, str] | None:
    """``{"low", "high", "method": "wilson"}`` as percent texts, or None without a score."""
    if value is None:
        return None
    found = band(groups)
    if found is None:
        return None
    return {"low": percent(found[0]), "high": percent(found[1]), "method": METHOD}
