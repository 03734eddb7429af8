"""Per-boot sequence bookkeeping: the end-to-end ack a device gets, and the gaps it must fill.

Pure: fed with the seq ranges the journal holds (stored, or declared lost by the device), it
answers what to ack and which ranges are missing. Everything is kept and computed as ranges
(intervals): no number a device chose is ever expanded, so memory and time per message do not
depend on the values a message carries.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from firmware.wire import MAX_SPAN  # seqs asked in one resend request (the wire's bound)

MAX_SELECTIVE = 100  # seqs listed in an ack's "x", so the payload stays far below 2 KiB


Range = tuple[int, int]  # (first, last), inclusive


@dataclass
class BootSeqs:
    """Settled seqs of one device boot: settled = stored in the journal, or reported gone.

    Held as a watermark `n` (every seq <= n is settled) plus sorted, disjoint, non-adjacent
    intervals above n + 1, and `high`, the highest seq known to exist in this boot (settled, or
    reported by a heartbeat's `s`)."""

    n: int = 0
    firsts: list[int] = field(default_factory=list)
    lasts: list[int] = field(default_factory=list)
    high: int = 0

    @classmethod
    def of(cls, ranges: Iterable[Range], high: int = 0) -> BootSeqs:
        b = cls()
        for first, last in ranges:
            b.add_range(first, last)
        b.see(high)
        return b

    @property
    def top(self) -> int:
        """The highest settled seq (0 if none)."""
        return self.lasts[-1] if self.lasts else self.n

    def intervals(self) -> int:
        """Intervals held above the watermark: the size of this object, whatever the seqs."""
        return len(self.firsts)

    def see(self, seq: int) -> None:
        """A seq is known to exist (a heartbeat's last seq used): gaps reach up to it."""
        if seq > self.high:
            self.high = seq

    def add(self, seq: int) -> bool:
        """Mark seq settled; False if it already was."""
        return self.add_range(seq, seq) > 0

    def add_range(self, first: int, last: int) -> int:
        """Mark first..last settled; returns how many of them were not settled before.
        O(log k + intervals merged)."""
        first = max(first, self.n + 1)
        if first > last:
            return 0
        self.see(last)
        # Intervals that overlap or touch first..last: i .. j-1.
        i = bisect_left(self.lasts, first - 1)
        j = bisect_right(self.firsts, last + 1)
        new = last - first + 1
        lo, hi = first, last
        for k in range(i, j):
            f, la = self.firsts[k], self.lasts[k]
            new -= max(0, min(la, last) - max(f, first) + 1)
            lo, hi = min(lo, f), max(hi, la)
        if lo == self.n + 1:
            # Reaches the watermark; only the lowest interval can (the others are above it).
            self.n = hi
            del self.firsts[:j], self.lasts[:j]
        else:
            self.firsts[i:j] = [lo]
            self.lasts[i:j] = [hi]
        return new

    def ack(self) -> tuple[int, list[int]]:
        """(n, x) for wire_gw.ack: cumulative watermark plus the highest settled seqs above it
        (at most MAX_SELECTIVE, ascending). O(MAX_SELECTIVE)."""
        x: list[int] = []
        k = len(self.firsts) - 1
        while k >= 0 and len(x) < MAX_SELECTIVE:
            f, la = self.firsts[k], self.lasts[k]
            take = min(la - f + 1, MAX_SELECTIVE - len(x))
            x.extend(range(la, la - take, -1))  # at most MAX_SELECTIVE numbers
            k -= 1
        x.reverse()
        return self.n, x

    def missing(self, first: int, last: int) -> list[Range]:
        """The unsettled parts of first..last. O(log k + intervals inside first..last)."""
        first = max(first, self.n + 1)
        out: list[Range] = []
        if first > last:
            return out
        k = bisect_left(self.lasts, first)
        cur = first
        while k < len(self.firsts) and self.firsts[k] <= last:
            if self.firsts[k] > cur:
                out.append((cur, self.firsts[k] - 1))
            cur = max(cur, self.lasts[k] + 1)
            k += 1
        if cur <= last:
            out.append((cur, last))
        return out

    def gaps(self) -> list[Range]:
        """Missing ranges up to the highest known seq (a tail gap included)."""
        return self.missing(self.n + 1, self.high)


class Chunk(NamedTuple):
    """One resend request (or one unclosable report) for a part of a gap."""

    gap: GapState
    first: int
    last: int


@dataclass
class GapState:
    """What the gateway did about one missing range. A range wider than MAX_SPAN is asked in
    chunks, lowest first: `next_first` starts the chunk being asked."""

    first: int
    last: int
    detected_at: float
    requested_at: float | None = None
    attempts: int = 0  # requests for the current chunk
    next_first: int = 0  # 0: first

    def __post_init__(self) -> None:
        if self.next_first < self.first:
            self.next_first = self.first

    @property
    def reported(self) -> bool:
        """Nothing of the gap is left to ask: its unanswered rest was reported unclosable."""
        return self.next_first > self.last

    def chunk(self) -> Range:
        return self.next_first, min(self.last, self.next_first + MAX_SPAN - 1)


def follow_gaps(
    old: dict[Range, GapState], current: list[Range], now: float
) -> tuple[dict[Range, GapState], list[Range]]:
    """States for a boot's current gaps (sorted, disjoint), carrying over what was done about
    the old gap each one came from; and the ranges seen for the first time.

    Settled seqs stay settled and the known top only grows, so each current gap overlaps at most
    one old gap: the old one shrank, split or (a tail gap) grew. A chunk still being asked keeps
    its timers; a chunk that closed lets the next one be asked at the next tick."""
    olds = sorted(old.values(), key=lambda g: g.first)
    out: dict[Range, GapState] = {}
    fresh: list[Range] = []
    i = 0
    for f, la in current:
        while i < len(olds) and olds[i].last < f:
            i += 1
        g = olds[i] if i < len(olds) and olds[i].first <= la else None
        if g is None:
            out[(f, la)] = GapState(f, la, now)
            fresh.append((f, la))
            continue
        if (g.first, g.last) == (f, la):
            out[(f, la)] = g
            continue
        start = max(f, g.next_first)
        if start > la:  # every part of it was reported already
            s = GapState(f, la, g.detected_at, g.requested_at, g.attempts, start)
        elif start > g.last:  # grew beyond the old range (tail): newly known seqs
            s = GapState(f, la, now, next_first=start)
            fresh.append((start, la))
        elif g.requested_at is None or start > g.chunk()[1]:
            # Not asked yet, or the asked chunk closed: the next chunk waits no longer than
            # the grace the gap already waited.
            s = GapState(f, la, g.detected_at, next_first=start)
        else:  # the chunk being asked is partly filled: same request, same timers
            s = GapState(f, la, g.detected_at, g.requested_at, g.attempts, start)
        out[(f, la)] = s
    return out, fresh


def due_resends(
    gaps: dict[Range, GapState],
    now: float,
    grace_s: float,
    interval_s: float,
    max_attempts: int,
) -> tuple[list[Chunk], list[Chunk]]:
    """(chunks to ask a resend for now, ranges to report as unclosable now). Mutates the
    states. A chunk the device answers (resends or `gone`) closes and the next chunk is asked;
    a chunk left unanswered max_attempts times ends the gap: its whole remaining range is
    reported unclosable."""
    ask: list[Chunk] = []
    give_up: list[Chunk] = []
    for g in gaps.values():
        if g.reported:
            continue
        if g.attempts >= max_attempts:
            if g.requested_at is None or now - g.requested_at < interval_s:
                continue
            # A device that answered none of max_attempts requests (neither a resend nor a
            # `gone`) will not answer for the rest of the gap either: the whole remaining gap is
            # reported unclosable at once, one lost range, instead of one chunk per interval.
            give_up.append(Chunk(g, g.next_first, g.last))
            g.next_first, g.attempts, g.requested_at = g.last + 1, 0, None
            continue
        else:
            waited = now - (g.requested_at if g.requested_at is not None else g.detected_at)
            limit = interval_s if g.requested_at is not None else grace_s
            if waited < limit:
                continue
        g.requested_at = now
        g.attempts += 1
        ask.append(Chunk(g, *g.chunk()))
    return ask, give_up
