"""The draw of a worklist from its frame (pure; docs/phone-callbacks.md "Worklists and sampling").

- ``daily``: every candidate is picked (planned), 差评 first, in a seeded random order.
- ``sample``: per window, a target of ``sample_per_window`` or ``ceil(sample_percent`` % of the
  window's candidates) (never more than it has); within the window the target is shared over its
  staff in proportion to their candidates by largest remainder (``stratify_by_staff``), and
  ``ceil(target * oversample_percent / 100)`` reserves (at most what is left) are drawn from the
  window's remaining candidates.

One entry per phone number: a frame with two tickets of one number keeps the earliest
(``dedupe_phones``). Reproducible: ``random.Random(seed)`` over the candidates sorted by
(stratum, ticket_id), so the input order does not matter.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from fractions import Fraction
from typing import Any, Literal

from server.callbacks.policy import CallbackPolicy

Kind = Literal["daily", "sample"]


@dataclass(frozen=True)
class Candidate:
    ticket_id: int
    window: str  # window code, "" when the ticket has none
    staff: str  # staff number (工号), "" when the ticket has none
    phone_hash: str
    ticket_day: date
    reason: str  # served / sample / dissatisfied
    source_evaluation_id: int | None = None

    @property
    def stratum(self) -> str:
        return f"{self.window}|{self.staff}"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ticket_day"] = self.ticket_day.isoformat()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Candidate:
        return cls(
            ticket_id=int(data["ticket_id"]),
            window=str(data["window"]),
            staff=str(data["staff"]),
            phone_hash=str(data["phone_hash"]),
            ticket_day=date.fromisoformat(data["ticket_day"]),
            reason=str(data["reason"]),
            source_evaluation_id=data.get("source_evaluation_id"),
        )


@dataclass(frozen=True)
class Pick:
    ticket_id: int
    stratum: str
    window: str
    reserve: bool
    position: int  # 1-based, planned entries first
    reason: str
    source_evaluation_id: int | None


@dataclass(frozen=True)
class Draw:
    picks: list[Pick]
    targets: dict[str, int]  # window -> planned entries


def _order(c: Candidate) -> tuple[str, int]:
    return (c.stratum, c.ticket_id)


def dedupe_phones(candidates: Iterable[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
    """(kept, dropped), in the given order: one candidate per phone number, the earliest ticket
    (day, then id)."""
    given = list(candidates)
    best: dict[str, Candidate] = {}
    for c in sorted(given, key=lambda c: (c.ticket_day, c.ticket_id)):
        best.setdefault(c.phone_hash, c)
    kept_ids = {c.ticket_id for c in best.values()}
    kept = [c for c in given if c.ticket_id in kept_ids]
    dropped = [c for c in given if c.ticket_id not in kept_ids]
    return kept, dropped


def window_target(available: int, policy: CallbackPolicy) -> int:
    """Planned entries of a window with ``available`` candidates."""
    if policy.sample_per_window is not None:
        return min(policy.sample_per_window, available)
    percent = Fraction(str(policy.sample_percent or 0))
    return min(math.ceil(available * percent / 100), available)


def reserve_count(target: int, policy: CallbackPolicy) -> int:
    return math.ceil(target * policy.oversample_percent / 100)


def allocate(target: int, sizes: dict[str, int]) -> dict[str, int]:
    """Largest-remainder shares of ``target`` over strata of ``sizes`` (ties: the larger
    stratum, then the key); each share is within 1 of its exact quota and at most its size."""
    total = sum(sizes.values())
    if total == 0 or target == 0:
        return dict.fromkeys(sizes, 0)
    exact = {k: Fraction(target * n, total) for k, n in sizes.items()}
    shares = {k: math.floor(q) for k, q in exact.items()}
    left = target - sum(shares.values())
    ranked = sorted(sizes, key=lambda k: (-(exact[k] - shares[k]), -sizes[k], k))
    for k in ranked[:left]:
        shares[k] += 1
    return shares


def draw(candidates: Iterable[Candidate], kind: Kind, policy: CallbackPolicy, seed: str) -> Draw:
    """The ordered picks of a worklist: planned first, then reserves."""
    frame, _ = dedupe_phones(sorted(candidates, key=_order))
    rng = random.Random(seed)
    if kind == "daily":
        order = list(frame)
        rng.shuffle(order)
        order.sort(key=lambda c: c.reason != "dissatisfied")  # stable: 差评 first
        picks = [_pick(c, False, i) for i, c in enumerate(order, start=1)]
        targets: dict[str, int] = {}
        for c in frame:
            targets[c.window] = targets.get(c.window, 0) + 1
        return Draw(picks, targets)
    by_window: dict[str, list[Candidate]] = {}
    for c in frame:
        by_window.setdefault(c.window, []).append(c)
    planned: list[Candidate] = []
    reserves: list[Candidate] = []
    targets = {}
    for window in sorted(by_window):
        members = by_window[window]
        target = window_target(len(members), policy)
        targets[window] = target
        chosen: list[Candidate] = []
        if policy.stratify_by_staff:
            strata: dict[str, list[Candidate]] = {}
            for c in members:
                strata.setdefault(c.staff, []).append(c)
            shares = allocate(target, {k: len(v) for k, v in strata.items()})
            for staff in sorted(strata):
                chosen += rng.sample(strata[staff], shares[staff])
        else:
            chosen = rng.sample(members, target)
        chosen_ids = {c.ticket_id for c in chosen}
        rest = [c for c in members if c.ticket_id not in chosen_ids]
        extra = min(reserve_count(target, policy), len(rest))
        planned += rng.sample(chosen, len(chosen))  # staff interleaved in the call order
        reserves += rng.sample(rest, extra)
    picks = [_pick(c, False, i) for i, c in enumerate(planned, start=1)]
    picks += [_pick(c, True, i) for i, c in enumerate(reserves, start=len(planned) + 1)]
    return Draw(picks, targets)


def _pick(c: Candidate, reserve: bool, position: int) -> Pick:
    return Pick(
        c.ticket_id, c.stratum, c.window, reserve, position, c.reason, c.source_evaluation_id
    )
