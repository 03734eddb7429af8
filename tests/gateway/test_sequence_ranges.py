"""Per-boot seqs as intervals: BootSeqs against a naive set model, chunked gap timers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.sequences import (
    MAX_SELECTIVE,
    MAX_SPAN,
    BootSeqs,
    GapState,
    due_resends,
    follow_gaps,
)

# ---- BootSeqs against a set ------------------------------------------------------------------


def runs(seqs: set[int], first: int, last: int) -> list[tuple[int, int]]:
    """Maximal runs of first..last that are NOT in seqs (the naive gaps)."""
    out: list[tuple[int, int]] = []
    for s in range(first, last + 1):
        if s in seqs:
            continue
        if out and out[-1][1] == s - 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


small = st.integers(1, 60)
op = st.one_of(
    st.tuples(st.just("add"), small, st.integers(0, 12)),  # add_range(a, a + len)
    st.tuples(st.just("see"), st.integers(0, 80), st.just(0)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(op, max_size=30), small, small)
def test_boot_seqs_match_a_set_of_seqs(ops: list[tuple[str, int, int]], q1: int, q2: int) -> None:
    b = BootSeqs()
    model: set[int] = set()
    high = 0
    for kind, a, length in ops:
        if kind == "see":
            b.see(a)
            high = max(high, a)
            continue
        new = set(range(a, a + length + 1))
        assert b.add_range(a, a + length) == len(new - model)
        model |= new
        high = max(high, a + length)
        # Invariants: sorted, disjoint, non-adjacent intervals, all above n + 1.
        assert len(b.firsts) == len(b.lasts)
        prev = b.n
        for f, la in zip(b.firsts, b.lasts, strict=True):
            assert prev + 1 < f <= la
            prev = la
    n = 0
    while n + 1 in model:
        n += 1
    above = sorted(s for s in model if s > n)
    assert b.ack() == (n, above[-MAX_SELECTIVE:])
    assert b.high == high and b.top == max(model, default=0)
    assert b.gaps() == runs(model, 1, high)
    lo, hi = min(q1, q2), max(q1, q2)
    assert b.missing(lo, hi) == runs(model, lo, hi)
    # Loaded back from its ranges (as the journal gives them), it is the same object.
    ranges = [(1, b.n)] if b.n else []
    again = BootSeqs.of([*ranges, *zip(b.firsts, b.lasts, strict=True)], b.high)
    assert again == b


def test_huge_seqs_stay_a_few_intervals() -> None:
    top = 2**30 - 1
    b = BootSeqs()
    b.add(top)
    assert b.gaps() == [(1, top - 1)] and b.ack() == (0, [top])
    b.add_range(2, top - 2)
    assert b.intervals() == 2 and b.gaps() == [(1, 1), (top - 1, top - 1)]
    b.add_range(1, top)
    assert (b.n, b.intervals(), b.gaps()) == (top, 0, [])
    b2 = BootSeqs.of([(5, 10**9)])
    n, x = b2.ack()
    assert n == 0 and x == list(range(10**9 - MAX_SELECTIVE + 1, 10**9 + 1))


def test_heartbeat_seq_opens_a_tail_gap() -> None:
    b = BootSeqs.of([(1, 1)])
    b.see(2)
    assert b.gaps() == [(2, 2)]
    b.add(2)
    assert b.gaps() == []


# ---- gap states, chunks ----------------------------------------------------------------------


def test_a_wide_gap_is_asked_in_chunks_lowest_first() -> None:
    gaps, fresh = follow_gaps({}, [(1, 3 * MAX_SPAN)], 100.0)
    assert fresh == [(1, 3 * MAX_SPAN)]
    ask, _ = due_resends(gaps, 100.5, 0.5, 1.0, 2)
    assert [(c.first, c.last) for c in ask] == [(1, MAX_SPAN)]
    # The device answers the first chunk (gone or resent): the second is asked at the next tick,
    # no new grace.
    gaps, fresh = follow_gaps(gaps, [(MAX_SPAN + 1, 3 * MAX_SPAN)], 100.6)
    assert fresh == []
    ask, _ = due_resends(gaps, 100.7, 0.5, 1.0, 2)
    assert [(c.first, c.last, c.gap.attempts) for c in ask] == [(MAX_SPAN + 1, 2 * MAX_SPAN, 1)]
    # The device fills the second chunk: the third is asked at the next tick.
    gaps, fresh = follow_gaps(gaps, [(2 * MAX_SPAN + 1, 3 * MAX_SPAN)], 100.8)
    ask, _ = due_resends(gaps, 100.9, 0.5, 1.0, 2)
    assert [(c.first, c.last) for c in ask] == [(2 * MAX_SPAN + 1, 3 * MAX_SPAN)]
    assert due_resends(gaps, 200.0, 0.5, 1.0, 2)[0] != []  # asked again (attempt 2)


def test_a_gap_whose_chunk_is_never_answered_is_reported_whole_at_once() -> None:
    """A device that answers none of max_attempts requests for the lowest chunk will not answer
    for the rest: the whole remaining gap becomes one unclosable range (a hostile s = MAX_SEQ in
    a fresh boot costs one lost range, not one per chunk and interval)."""
    gaps, _ = follow_gaps({}, [(1, 3 * MAX_SPAN)], 100.0)
    ask, _ = due_resends(gaps, 100.5, 0.5, 1.0, 2)
    ask, _ = due_resends(gaps, 101.5, 0.5, 1.0, 2)
    assert [(c.first, c.last, c.gap.attempts) for c in ask] == [(1, MAX_SPAN, 2)]
    ask, give_up = due_resends(gaps, 102.5, 0.5, 1.0, 2)
    assert ask == [] and [(c.first, c.last) for c in give_up] == [(1, 3 * MAX_SPAN)]
    assert all(g.reported for g in gaps.values())
    assert due_resends(gaps, 200.0, 0.5, 1.0, 2) == ([], [])


def test_a_chunk_partly_filled_keeps_its_timers() -> None:
    gaps, _ = follow_gaps({}, [(10, 20)], 100.0)
    ask, _ = due_resends(gaps, 100.5, 0.5, 1.0, 3)
    assert [(c.first, c.last) for c in ask] == [(10, 20)]
    gaps, fresh = follow_gaps(gaps, [(13, 14), (18, 20)], 100.6)
    assert fresh == []
    assert due_resends(gaps, 101.0, 0.5, 1.0, 3) == ([], [])  # the request is 0.5 s old
    ask, _ = due_resends(gaps, 101.5, 0.5, 1.0, 3)
    assert sorted((c.first, c.last, c.gap.attempts) for c in ask) == [(13, 14, 2), (18, 20, 2)]


def test_a_tail_gap_that_grows_after_it_was_reported_asks_for_the_new_part() -> None:
    gaps, _ = follow_gaps({}, [(5, 5)], 100.0)
    due_resends(gaps, 100.5, 0.5, 1.0, 1)
    _, give_up = due_resends(gaps, 101.5, 0.5, 1.0, 1)
    assert [(c.first, c.last) for c in give_up] == [(5, 5)]
    gaps, fresh = follow_gaps(gaps, [(5, 7)], 102.0)  # a heartbeat says 7
    assert fresh == [(6, 7)]
    assert due_resends(gaps, 102.2, 0.5, 1.0, 1) == ([], [])  # grace for the new part
    ask, _ = due_resends(gaps, 102.5, 0.5, 1.0, 1)
    assert [(c.first, c.last) for c in ask] == [(6, 7)]


def test_gap_state_defaults_ask_the_whole_small_gap() -> None:
    g = GapState(3, 4, detected_at=0.0)
    assert g.chunk() == (3, 4) and not g.reported


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 3 * MAX_SPAN), st.integers(0, MAX_SPAN), st.booleans()),
        max_size=12,
    )
)
def test_asked_chunks_stay_inside_current_gaps_and_within_max_span(
    steps: list[tuple[int, int, bool]],
) -> None:
    """Whatever settles (ranges stored or gone, heartbeats raising the top) between timer
    ticks, every chunk asked (at most MAX_SPAN) or range reported lies inside a current gap, and
    the states are keyed by exactly the current gaps."""
    b = BootSeqs()
    gaps: dict[tuple[int, int], GapState] = {}
    now = 0.0
    for a, length, heartbeat in steps:
        if heartbeat:
            b.see(a + length)
        else:
            b.add_range(a, a + length)
        gaps, _ = follow_gaps(gaps, b.gaps(), now)
        assert sorted(gaps) == b.gaps()
        now += 1.0
        ask, give_up = due_resends(gaps, now, 0.5, 1.0, 1)
        for c in ask:
            assert c.last - c.first + 1 <= MAX_SPAN
            assert b.missing(c.first, c.last) == [(c.first, c.last)]
        for c in give_up:  # the unanswered rest of a gap: inside it, any span
            assert b.missing(c.first, c.last) == [(c.first, c.last)]
