"""The ground-truth ledger: what the server SHOULD count for a script, per window and channel.

Rules (docs/gateway.md, DOMAIN.md): the first press per ticket counts; a second press is misuse
(stored, not counted); a press with no request is flagged no_ticket (not counted by default); a
ticket dropped into the ballot box counts once; an unreadable drop counts for the hall,
unattributed; SMS replies, connected call-backs and online ratings count in their channel. Then
一次一评 (docs/online-rating.md), as the server's default policy: of the countable ratings of one
ticket slot (ticket, ticket day) across evaluator, ballot box, online, SMS and phone the earliest
counts (ties by that channel order); the others are stored, flagged duplicate_ticket, not counted.
The 30/30/40 score comes from server.scoring with the default policy, so it is the exact fraction
the server must report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from simulator.hall_model import LEVELS, Event, Script

CHANNELS = ("evaluator", "ballot_box", "sms", "phone", "online")
# 一次一评's default precedence: earliest, ties by this order (server/online/policy.py).
ONE_RATING_ORDER = ("evaluator", "ballot_box", "online", "sms", "phone")
HALL = "_hall"  # key of the whole-hall totals in per-scope maps

Counts = dict[str, dict[str, int]]


def _empty() -> Counts:
    return {ch: {lv: 0 for lv in LEVELS} for ch in CHANNELS}


@dataclass
class Ledger:
    hall: str
    seed: int
    first_day: str
    last_day: str
    windows: dict[str, Counts]
    hall_counts: Counts
    unattributed: Counts
    flags: dict[str, int]
    stats: dict[str, int]
    scores: dict[str, dict[str, str | None]] = field(default_factory=dict)
    # Stored, never counted, per channel: the gateway's flags and 一次一评's losers.
    excluded: dict[str, int] = field(default_factory=dict)

    def scope(self, window: str | None) -> Counts:
        return self.hall_counts if window is None else self.windows[window]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1, sort_keys=True))
        return p

    @classmethod
    def read(cls, path: str | Path) -> Ledger:
        return cls(**json.loads(Path(path).read_text()))


def _add(counts: Counts, channel: str, level: str) -> None:
    counts[channel][level] += 1


@dataclass(frozen=True)
class SlotRating:
    """A countable rating of a ticket slot, before 一次一评."""

    t: int
    channel: str
    window: str
    level: str
    slot: tuple[str, str]  # (ticket, ticket day)

    def order(self) -> tuple[int, int]:
        return (self.t, ONE_RATING_ORDER.index(self.channel))


def one_rating(ratings: list[SlotRating]) -> tuple[list[SlotRating], list[SlotRating]]:
    """一次一评 (winners, losers): per slot the earliest rating, ties by channel order. (The
    server breaks a remaining tie by key; the script never has two ratings of one slot at the
    same second in one channel.)"""
    by_slot: dict[tuple[str, str], list[SlotRating]] = {}
    for r in ratings:
        by_slot.setdefault(r.slot, []).append(r)
    winners: list[SlotRating] = []
    losers: list[SlotRating] = []
    for rs in by_slot.values():
        ordered = sorted(rs, key=SlotRating.order)
        winners.append(ordered[0])
        losers += ordered[1:]
    return winners, losers


def compute(script: Script) -> Ledger:
    """The ledger of a script: a pure function of its events."""
    spec = script.spec
    tz = ZoneInfo(spec.tz)
    windows = {w: _empty() for w in spec.window_codes()}
    hall = _empty()
    unattributed = _empty()
    flags = {"misuse": 0, "no_ticket": 0, "duplicate_ticket": 0, "one_rating": 0}
    excluded = dict.fromkeys(CHANNELS, 0)
    stats = {
        "tickets": 0,
        "queue_events": 0,
        "presses": 0,
        "drops": 0,
        "sms_sent": 0,
        "sms_replies": 0,
        "phone_calls": 0,
        "phone_connected": 0,
        "online_ratings": 0,
    }
    pressed: set[str] = set()
    dropped: set[str] = set()
    ratings: list[SlotRating] = []

    def slot(e: Event) -> tuple[str, str]:
        assert e.ticket is not None
        day = e.ticket_day or datetime.fromtimestamp(e.t, tz).date().isoformat()
        return (e.ticket, day)

    for e in script.events:
        if e.kind == "queue":
            stats["queue_events"] += 1
            if e.ev == "finish":
                stats["tickets"] += 1
        elif e.kind == "press":
            stats["presses"] += 1
            assert e.level is not None and e.window is not None
            if e.role == "stray":
                flags["no_ticket"] += 1
                excluded["evaluator"] += 1
            elif e.ticket in pressed:
                flags["misuse"] += 1
                excluded["evaluator"] += 1
            else:
                assert e.ticket is not None
                pressed.add(e.ticket)
                ratings.append(SlotRating(e.t, "evaluator", e.window, e.level, slot(e)))
        elif e.kind == "drop":
            stats["drops"] += 1
            assert e.level is not None
            if e.ticket is None:
                _add(unattributed, "ballot_box", e.level)
                _add(hall, "ballot_box", e.level)
            elif e.ticket in dropped:
                flags["duplicate_ticket"] += 1
                excluded["ballot_box"] += 1
            else:
                assert e.window is not None
                dropped.add(e.ticket)
                ratings.append(SlotRating(e.t, "ballot_box", e.window, e.level, slot(e)))
        elif e.kind in ("sms", "phone"):
            key = "sms_sent" if e.kind == "sms" else "phone_calls"
            stats[key] += 1
            if e.level is not None:
                stats["sms_replies" if e.kind == "sms" else "phone_connected"] += 1
                assert e.window is not None
                ratings.append(SlotRating(e.t, e.kind, e.window, e.level, slot(e)))
        elif e.kind == "online":
            stats["online_ratings"] += 1
            assert e.window is not None and e.level is not None
            ratings.append(SlotRating(e.t, "online", e.window, e.level, slot(e)))
    winners, losers = one_rating(ratings)
    for r in winners:
        _add(windows[r.window], r.channel, r.level)
        _add(hall, r.channel, r.level)
    for r in losers:
        flags["one_rating"] += 1
        excluded[r.channel] += 1
    first = datetime.fromtimestamp(script.start, tz).date()
    last = datetime.fromtimestamp(script.end, tz).date()
    ledger = Ledger(
        spec.hall,
        spec.seed,
        first.isoformat(),
        last.isoformat(),
        windows,
        hall,
        unattributed,
        flags,
        stats,
        excluded=excluded,
    )
    ledger.scores = {HALL: score_of(hall)} | {w: score_of(c) for w, c in windows.items()}
    return ledger


def score_of(counts: Mapping[str, Mapping[str, int]]) -> dict[str, str | None]:
    """The 30/30/40 score under the default policy, as exact text and as display percent."""
    try:
        from server.policy import Policy
        from server.scoring import percent_text, score

        policy = Policy.default()
        result = score({ch: dict(lv) for ch, lv in counts.items()}, policy)
        value = result.score.value
        alt = result.alt_score.value
        return {
            "exact": _frac(value),
            "percent": percent_text(value, policy) if value is not None else None,
            "alt_exact": _frac(alt),
        }
    except ImportError:  # pragma: no cover - server package absent
        value = fallback_score(counts, ("very_satisfied", "satisfied"))
        alt = fallback_score(counts, ("very_satisfied", "satisfied", "basically_satisfied"))
        return {"exact": _frac(value), "percent": None, "alt_exact": _frac(alt)}


def fallback_score(
    counts: Mapping[str, Mapping[str, int]], good: tuple[str, ...]
) -> Fraction | None:
    """Seed 000's rule without the server package: on-site (evaluator + ballot) 30%, SMS 30%,
    phone 40%, weights renormalised over the groups that have data (online: weight 0)."""
    groups = {
        "on_site": (("evaluator", "ballot_box"), Fraction(3, 10)),
        "sms": (("sms",), Fraction(3, 10)),
        "phone": (("phone",), Fraction(4, 10)),
    }
    parts: list[tuple[Fraction, Fraction]] = []
    for chans, weight in groups.values():
        total = sum(sum(counts.get(c, {}).values()) for c in chans)
        if total:
            sat = sum(counts.get(c, {}).get(lv, 0) for c in chans for lv in good)
            parts.append((weight, Fraction(sat, total)))
    if not parts:
        return None
    wsum = sum((w for w, _ in parts), Fraction(0))
    return sum((w / wsum * r for w, r in parts), Fraction(0))


def _frac(value: Fraction | None) -> str | None:
    return None if value is None else f"{value.numerator}/{value.denominator}"


def period(ledger: Ledger) -> tuple[date, date]:
    """Inclusive date range covering every counted event (SMS same day, phone the next day)."""
    first = date.fromisoformat(ledger.first_day)
    last = max(date.fromisoformat(ledger.last_day), first + timedelta(days=1))
    return first, last
