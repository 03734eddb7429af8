"""Ballot counting (firmware/beam_count.py) over the edge traces of tests/firmware/traces/*.json.

A trace: "rows" [t_ms, entry, confirm] (the levels from t on, 1 = blocked), "end", "stalls"
[[from, to], ...] (the sampler is blind: a flash stall), "pcnt" (a hardware counter counts every
confirm block edge), optional "conf" (Slot's min_ms, jam_ms, rearm_ms) and "expect": the events
in order ("drop" per recovered drop then "drops_recovered", as the app emits them), "count", and
optionally "withdrawn" and "recovered". The replay samples every 5 ms, as the ballot app does,
and reconciles with the counter every 1000 ms. Runs on MicroPython and CPython.
"""

import json
import os

from beam_count import BoxFill, Slot

TRACES = __file__.rsplit("/", 2)[0] + "/traces"
PERIOD = 5


def levels(rows, t):
    e = c = 0
    for r in rows:
        if r[0] > t:
            break
        e, c = r[1], r[2]
    return e, c


def hw_count(rows, t):
    """Confirm block edges up to t, as a pulse counter sees them (every one, however short)."""
    n = 0
    c = rows[0][2]
    for r in rows[1:]:
        if r[0] > t:
            break
        if r[2] and not c:
            n += 1
        c = r[2]
    return n


def replay(trace):
    s = Slot(0, **(trace.get("conf") or {}))
    rows = trace["rows"]
    out = []
    for t in range(0, trace["end"] + 1, PERIOD):
        blind = False
        for a, b in trace["stalls"]:
            if a <= t < b:
                blind = True
        if blind:
            continue
        e, c = levels(rows, t)
        out += list(s.sample(t, e, c))
        if t % 1000 == 0 and trace["pcnt"]:
            n = s.reconcile(hw_count(rows, t))
            if n:
                out += ["drop"] * n + ["drops_recovered"]
    return s, out


def _check(name):
    with open(TRACES + "/" + name) as f:
        trace = json.load(f)
    s, events = replay(trace)
    want = trace["expect"]
    assert events == want["events"], (name, events)
    assert s.count == want["count"], (name, s.count)
    for k in ("withdrawn", "recovered"):
        if k in want:
            assert getattr(s, k) == want[k], (name, k, getattr(s, k))


def test_every_recorded_trace():
    names = sorted(n for n in os.listdir(TRACES) if n.endswith(".json"))
    assert len(names) >= 12
    for n in names:
        _check(n)


def test_lost_edge_glitch_and_dip_traces_are_there():
    names = os.listdir(TRACES)
    for n in ("lost_edges.json", "glitches.json", "dip_and_pull.json"):
        assert n in names


def test_deficit_recovered_only_when_it_persists():
    # A block edge between the last sample and the counter read: the next sample sees it.
    s = Slot(0)
    s.sample(0, 0, 0)
    s.reconcile(0)
    s.sample(5, 0, 0)
    s.sample(200, 0, 0)  # blind 195 ms: a budget of drops
    assert s.reconcile(1) == 0  # the counter is ahead by one: wait a round
    s.sample(205, 0, 1)  # there it is
    s.sample(300, 0, 0)
    assert s.reconcile(1) == 0 and s.count == 1 and s.recovered == 0


def test_recovery_bounded_by_what_the_blind_gap_could_hold():
    s = Slot(0, min_ms=10, rearm_ms=80)
    s.sample(0, 0, 0)
    s.reconcile(0)
    s.sample(100, 0, 0)  # blind 100 ms: at most 2 drops fit
    assert s.reconcile(5) == 0
    s.sample(105, 0, 0)
    assert s.reconcile(5) == 2
    assert s.count == 2 and s.recovered == 2
    s.sample(110, 0, 0)
    assert s.reconcile(5) == 0 and s.count == 2  # the rest were not drops


def test_wrapping_ticks():
    # ticks_ms wraps; a drop across the wrap still counts (MicroPython's ticks_diff only).
    try:
        from time import ticks_add
    except ImportError:
        return
    t0 = ticks_add(0, -50)
    s = Slot(0)
    s.sample(t0, 0, 0)
    s.sample(ticks_add(t0, 5), 0, 1)
    s.sample(ticks_add(t0, 10), 0, 1)
    s.sample(ticks_add(t0, 15), 0, 1)
    assert s.sample(ticks_add(t0, 100), 0, 0) == ["drop"] and s.count == 1


def test_box_fill_once_and_reset():
    f = BoxFill(3)
    assert [f.add(1), f.add(1), f.add(1), f.add(1)] == [False, False, True, False]
    f.drops = 0
    f.full = False
    assert not f.add(2) and f.add(1)
    assert not BoxFill(0).add(10**6)  # no capacity: no estimate
