"""The 群众满意度 score as pure, exact arithmetic (seed 000): per-channel 满意率, the weighted
30/30/40 score, and the year from its quarters. Fractions throughout; rounding only for display."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from typing import Any

from server.confidence import interval95
from server.policy import CHANNELS, LEVELS, Policy, fraction_text

Counts = Mapping[str, Mapping[str, int]]


# ---- exact display rounding ---------------------------------------------------------------


def round_fraction(value: Fraction, decimals: int, mode: str = "ROUND_HALF_UP") -> Decimal:
    """Round an exact fraction to ``decimals`` places without any binary or precision loss.

    ROUND_HALF_UP rounds halves away from zero (12.345 -> 12.35); ROUND_HALF_EVEN to the even
    neighbour (12.345 -> 12.34).
    """
    num, den = abs(value.numerator) * 10**decimals, value.denominator
    whole, rest = divmod(num, den)
    twice = 2 * rest
    if twice > den or (twice == den and (mode == "ROUND_HALF_UP" or whole % 2 == 1)):
        whole += 1
    sign = -1 if value < 0 else 1
    return Decimal(sign * whole).scaleb(-decimals)


def percent_text(value: Fraction, policy: Policy) -> str:
    """A rate (0..1) as a percentage string with the policy's decimals, e.g. "93.33"."""
    return str(round_fraction(value * 100, policy.display_decimals, policy.rounding))


def _exact(value: Fraction | None, policy: Policy) -> dict[str, str] | None:
    if value is None:
        return None
    return {"exact": fraction_text(value), "percent": percent_text(value, policy)}


# ---- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """Level counts of one channel or group, with the headline and alternative 满意 counts."""

    counts: dict[str, int]
    total: int
    satisfied: int
    alt_satisfied: int

    @cached_property
    def rate(self) -> Fraction | None:
        return Fraction(self.satisfied, self.total) if self.total else None

    @cached_property
    def alt_rate(self) -> Fraction | None:
        return Fraction(self.alt_satisfied, self.total) if self.total else None

    def to_dict(self, policy: Policy) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "total": self.total,
            "satisfied": self.satisfied,
            "rate": _exact(self.rate, policy),
            "alt_satisfied": self.alt_satisfied,
            "alt_rate": _exact(self.alt_rate, policy),
            "below_min_sample": 0 < self.total < policy.min_sample,
        }


def _tally(full: dict[str, int], policy: Policy) -> Tally:
    """A tally of complete level counts (every level present)."""
    return Tally(
        counts=full,
        total=sum(full.values()),
        satisfied=sum([full[lv] for lv in policy.satisfied_levels]),
        alt_satisfied=sum([full[lv] for lv in policy.alt_satisfied_levels]),
    )


def _levels(counts: Mapping[str, int] | None) -> dict[str, int]:
    if not counts:
        return dict.fromkeys(LEVELS, 0)
    return {lv: counts.get(lv, 0) for lv in LEVELS}


@dataclass(frozen=True)
class GroupResult:
    name: str
    channels: tuple[str, ...]
    weight: Fraction
    effective_weight: Fraction
    tally: Tally

    @property
    def has_data(self) -> bool:
        return self.tally.total > 0

    def to_dict(self, policy: Policy) -> dict[str, Any]:
        return {
            "name": self.name,
            "channels": list(self.channels),
            "weight": _exact(self.weight, policy),
            "effective_weight": _exact(self.effective_weight, policy),
            "has_data": self.has_data,
            **self.tally.to_dict(policy),
        }


@dataclass(frozen=True)
class Weighted:
    """A weighted score, or None with the reason."""

    value: Fraction | None
    basis: str  # "complete" | "renormalised" | "zero_filled" | "none"
    reason: str | None = None

    def to_dict(self, policy: Policy) -> dict[str, Any]:
        out: dict[str, Any] = {"basis": self.basis, "reason": self.reason}
        exact = _exact(self.value, policy)
        out["exact"] = exact["exact"] if exact else None
        out["percent"] = exact["percent"] if exact else None
        return out


@dataclass(frozen=True)
class ScoreResult:
    policy: Policy
    channels: dict[str, Tally]
    groups: tuple[GroupResult, ...]
    score: Weighted
    alt_score: Weighted
    missing_groups: tuple[str, ...]
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def counted_total(self) -> int:
        return sum(t.total for t in self.channels.values())

    @property
    def excluded_total(self) -> int:
        return sum(sum(levels.values()) for levels in self.excluded.values())

    @property
    def below_min_sample(self) -> tuple[str, ...]:
        return tuple(
            g.name for g in self.groups if g.weight and 0 < g.tally.total < self.policy.min_sample
        )

    def group(self, name: str) -> GroupResult:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)

    def interval95(self) -> dict[str, str] | None:
        """The score's Wilson 95 % band (server/confidence.py), or None without a score."""
        groups = [(g.effective_weight, g.tally.satisfied, g.tally.total) for g in self.groups]
        return interval95(self.score.value, groups, lambda f: percent_text(f, self.policy))

    def to_dict(self) -> dict[str, Any]:
        p = self.policy
        flags = [f"missing:{name}" for name in self.missing_groups]
        flags += [f"below_min_sample:{name}" for name in self.below_min_sample]
        return {
            "score": self.score.to_dict(p),
            "alt_score": self.alt_score.to_dict(p),
            "interval95": self.interval95(),
            "effective_weights": {
                g.name: fraction_text(g.effective_weight) for g in self.groups if g.weight
            },
            "missing_groups": list(self.missing_groups),
            "below_min_sample": list(self.below_min_sample),
            "flags": flags,
            "counted_total": self.counted_total,
            "groups": [g.to_dict(p) for g in self.groups],
            "channels": {
                ch: {"group": p.group_of(ch).name, **t.to_dict(p)}
                for ch, t in self.channels.items()
            },
            "excluded": {
                "total": self.excluded_total,
                "channels": {
                    ch: {**levels, "total": sum(levels.values())}
                    for ch, levels in self.excluded.items()
                },
            },
            "policy": p.describe(),
        }


# ---- the score ----------------------------------------------------------------------------


_CHANNEL_SET = frozenset(CHANNELS)
_LEVEL_SET = frozenset(LEVELS)


def _check_counts(counts: Counts, what: str) -> None:
    for channel, levels in counts.items():
        if channel not in _CHANNEL_SET:
            raise ValueError(f"{what}: unknown channel {channel!r}")
        for level, n in levels.items():
            if level not in _LEVEL_SET:
                raise ValueError(f"{what}: unknown level {level!r} in channel {channel!r}")
            if type(n) is not int or n < 0:  # bool is refused too
                raise ValueError(f"{what}: count for {channel}/{level} must be an int >= 0")


def _weighted_sum(groups: list[GroupResult], alt: bool) -> Fraction:
    """Σ weight × 满意/total in integers, one Fraction at the end (Fraction sums are slow)."""
    num, den = 0, 1
    for g in groups:
        a, b = g.weight.numerator, g.weight.denominator
        sat = g.tally.alt_satisfied if alt else g.tally.satisfied
        d = b * g.tally.total
        num, den = num * d + a * sat * den, den * d
    return Fraction(num, den)


def _weighted(
    groups: tuple[GroupResult, ...], policy: Policy, alt: bool
) -> tuple[Weighted, tuple[GroupResult, ...] | None]:
    weighted = [g for g in groups if g.weight]
    present = [g for g in weighted if g.has_data]
    missing = [g.name for g in weighted if not g.has_data]

    if not present:
        return Weighted(None, "none", "no counted evaluations in any weighted group"), None
    if not missing:
        return Weighted(_weighted_sum(present, alt), "complete"), None
    if policy.missing_group == "none":
        reason = f"no data for {', '.join(missing)} and the policy gives no partial score"
        return Weighted(None, "none", reason), None
    if policy.missing_group == "zero":
        value = _weighted_sum(present, alt)
        return Weighted(value, "zero_filled", f"{', '.join(missing)} counted as 0%"), None
    total = sum((g.weight for g in present), Fraction(0))
    renormalised = tuple(
        GroupResult(
            g.name,
            g.channels,
            g.weight,
            g.weight / total if g.has_data and g.weight else Fraction(0),
            g.tally,
        )
        for g in groups
    )
    value = _weighted_sum(present, alt) / total
    reason = f"weights renormalised without {', '.join(missing)}"
    return Weighted(value, "renormalised", reason), renormalised


def score(
    counts: Counts,
    policy: Policy,
    excluded: Mapping[str, Mapping[str, int]] | None = None,
) -> ScoreResult:
    """Score one scope and period from COUNTED evaluations per channel and level.

    ``excluded`` (flagged / appealed evaluations) never enters a rate; it is only reported.
    """
    _check_counts(counts, "counts")
    _check_counts(excluded or {}, "excluded")
    channels = {ch: _tally(_levels(counts.get(ch)), policy) for ch in CHANNELS}
    groups = tuple(
        GroupResult(
            g.name, g.channels, g.weight, g.weight, _group_tally(g.channels, channels, policy)
        )
        for g in policy.groups
    )
    headline, renormalised = _weighted(groups, policy, alt=False)
    alt, _ = _weighted(groups, policy, alt=True)
    if renormalised is not None:
        groups = renormalised
    elif headline.value is None:
        groups = tuple(
            GroupResult(g.name, g.channels, g.weight, Fraction(0), g.tally) for g in groups
        )
    missing = tuple(g.name for g in groups if g.weight and not g.has_data)
    excluded_out = {
        ch: {lv: int(n) for lv, n in levels.items() if n}
        for ch, levels in (excluded or {}).items()
        if any(levels.values())
    }
    return ScoreResult(policy, channels, groups, headline, alt, missing, excluded_out)


def _group_tally(members: tuple[str, ...], channels: dict[str, Tally], policy: Policy) -> Tally:
    if len(members) == 1:
        return channels[members[0]]
    full = dict.fromkeys(LEVELS, 0)
    for ch in members:
        for lv, n in channels[ch].counts.items():
            full[lv] += n
    return _tally(full, policy)


def overall_tally(counts: Counts, policy: Policy) -> Tally:
    """One tally of every channel's counted levels together (a staff member's 满意率 on the
    appraisal sheet, server/reports/): 满意 over all counted ratings, whatever the channel."""
    _check_counts(counts, "counts")
    full = dict.fromkeys(LEVELS, 0)
    for levels in counts.values():
        for lv, n in levels.items():
            full[lv] += n
    return _tally(full, policy)


def add_counts(*many: Counts) -> dict[str, dict[str, int]]:
    """Sum several Counts mappings (e.g. the months of a quarter)."""
    out: dict[str, dict[str, int]] = {}
    for counts in many:
        for ch, levels in counts.items():
            target = out.setdefault(ch, {})
            for lv, n in levels.items():
                target[lv] = target.get(lv, 0) + n
    return out


YEAR_RULE = "sum of the quarterly scores (四季度成绩之和为全年群众满意度成绩); mean beside it"

# ---- the year -----------------------------------------------------------------------------


@dataclass(frozen=True)
class YearResult:
    """四季度成绩之和为全年群众满意度成绩: the sum as the rule says, and the mean beside it."""

    policy: Policy
    quarters: dict[int, ScoreResult]
    scored_quarters: tuple[int, ...]
    sum: Fraction | None
    mean: Fraction | None
    alt_sum: Fraction | None
    alt_mean: Fraction | None

    @property
    def missing_quarters(self) -> tuple[int, ...]:
        return tuple(q for q in (1, 2, 3, 4) if q not in self.scored_quarters)

    def to_dict(self) -> dict[str, Any]:
        p = self.policy
        return {
            "sum": _exact(self.sum, p),
            "mean": _exact(self.mean, p),
            "alt_sum": _exact(self.alt_sum, p),
            "alt_mean": _exact(self.alt_mean, p),
            "rule": YEAR_RULE,
            "scored_quarters": list(self.scored_quarters),
            "missing_quarters": list(self.missing_quarters),
            "complete": len(self.scored_quarters) == 4,
            "quarters": {
                str(q): {
                    "score": r.score.to_dict(p),
                    "alt_score": r.alt_score.to_dict(p),
                    "counted_total": r.counted_total,
                    "missing_groups": list(r.missing_groups),
                }
                for q, r in sorted(self.quarters.items())
            },
            "policy": p.describe(),
        }


def _sum_mean(values: Iterable[Fraction]) -> tuple[Fraction | None, Fraction | None]:
    vals = list(values)
    if not vals:
        return None, None
    total = sum(vals, Fraction(0))
    return total, total / len(vals)


def year_score(quarters: Mapping[int, ScoreResult], policy: Policy) -> YearResult:
    """The year from its quarters (keys 1..4). Quarters without a score are listed as missing."""
    for q, result in quarters.items():
        if q not in (1, 2, 3, 4):
            raise ValueError(f"quarter key {q!r} is not 1..4")
        if result.policy != policy:
            raise ValueError(f"quarter {q} was scored under another policy ({result.policy.name})")
    scored = tuple(sorted(q for q, r in quarters.items() if r.score.value is not None))
    total, mean = _sum_mean(v for q in scored if (v := quarters[q].score.value) is not None)
    alt_total, alt_mean = _sum_mean(
        v for q in scored if (v := quarters[q].alt_score.value) is not None
    )
    return YearResult(policy, dict(quarters), scored, total, mean, alt_total, alt_mean)
