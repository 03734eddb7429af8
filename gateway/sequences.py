"""Per-boot sequence bookkeeping: the end-to-end ack a device gets, and the gaps it must fill.

Pure: fed with the seqs the journal holds (stored, or declared lost by the device), it answers
what to ack and which ranges are missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_SELECTIVE = 100  # seqs listed in an ack's "x", so the payload stays far below 2 KiB


@dataclass
class BootSeqs:
    """Settled seqs of one device boot: settled = stored in the journal, or reported gone."""

    n: int = 0  # every seq <= n is settled
    above: set[int] = field(default_factory=set)  # settled seqs > n + 1

    @classmethod
    def of(cls, seqs: Iterable[int]) -> BootSeqs:
        b = cls()
        for s in seqs:
            b.add(s)
        return b

    def add(self, seq: int) -> bool:
        """Mark seq settled; False if it already was."""
        if seq <= self.n or seq in self.above:
            return False
        self.above.add(seq)
        while self.n + 1 in self.above:
            self.n += 1
            self.above.discard(self.n)
        return True

    def ack(self) -> tuple[int, list[int]]:
        """(n, x) for wire_gw.ack: cumulative watermark plus the highest settled seqs above it."""
        return self.n, sorted(self.above)[-MAX_SELECTIVE:]

    def gaps(self) -> list[tuple[int, int]]:
        """Missing ranges below the highest settled seq, as (first, last) inclusive."""
        out: list[tuple[int, int]] = []
        prev = self.n
        for s in sorted(self.above):
            if s > prev + 1:
                out.append((prev + 1, s - 1))
            prev = s
        return out


@dataclass
class GapState:
    """What the gateway did about one missing range."""

    first: int
    last: int
    detected_at: float
    requested_at: float | None = None
    attempts: int = 0
    reported: bool = False


def due_resends(
    gaps: dict[tuple[int, int], GapState],
    now: float,
    grace_s: float,
    interval_s: float,
    max_attempts: int,
) -> tuple[list[GapState], list[GapState]]:
    """(gaps to ask a resend for now, gaps to report as unclosable now). Mutates the states."""
    ask: list[GapState] = []
    give_up: list[GapState] = []
    for g in gaps.values():
        if g.reported:
            continue
        if g.attempts >= max_attempts:
            if g.requested_at is not None and now - g.requested_at >= interval_s:
                g.reported = True
                give_up.append(g)
            continue
        waited = now - (g.requested_at if g.requested_at is not None else g.detected_at)
        limit = interval_s if g.requested_at is not None else grace_s
        if waited >= limit:
            g.requested_at = now
            g.attempts += 1
            ask.append(g)
    return ask, give_up
