"""The hall model: same seed, same script; and the timing invariants the ground truth relies on."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import wire
from simulator.hall_model import (
    MAX_SKEW_S,
    MIN_PRESS_DELAY_S,
    MIN_SKEW_S,
    STRAY_CLEARANCE_S,
    Event,
    HallSpec,
    build,
)

RATING_WINDOW_S = 120  # the gateway's default attribution.rating_window_s


def test_same_seed_same_script() -> None:
    spec = HallSpec(windows=4, tickets=300, seed=11, day=date(2026, 11, 23))
    a, b = build(spec), build(spec)
    assert a.events == b.events
    assert a.profiles == b.profiles


def test_other_seed_other_script() -> None:
    a = build(HallSpec(windows=4, tickets=300, seed=1))
    b = build(HallSpec(windows=4, tickets=300, seed=2))
    assert a.events != b.events


def test_some_windows_are_worse() -> None:
    s = build(HallSpec(windows=6, tickets=100, seed=3))
    assert s.profiles["A06"].profile == "bad"
    good = [p for p in s.profiles.values() if p.profile in ("excellent", "good")]
    bad_share = sum(s.profiles["A06"].levels[3:])
    assert all(sum(p.levels[3:]) < bad_share for p in good)


def check_invariants(spec: HallSpec) -> None:
    s = build(spec)
    ev = s.events
    assert [e.t for e in ev] == sorted(e.t for e in ev)
    finishes: dict[str, Event] = {}
    calls: dict[str, Event] = {}
    by_window: dict[str, list[Event]] = defaultdict(list)
    for e in ev:
        if e.window is not None:
            by_window[e.window].append(e)
        if e.kind == "queue":
            assert e.ev in wire.QUEUE_EVENTS
            assert e.id is not None
            if e.ev == "call":
                assert e.ticket not in calls, "ticket numbers are unique in a day"
                calls[str(e.ticket)] = e
            if e.ev == "finish":
                assert e.ticket in calls and calls[str(e.ticket)].window == e.window
                assert e.ticket not in finishes
                finishes[str(e.ticket)] = e
    assert len(finishes) == spec.tickets
    ids = [e.id for e in ev if e.kind == "queue"]
    assert len(ids) == len(set(ids))

    for w, wev in by_window.items():
        fins = [e for e in wev if e.kind == "queue" and e.ev == "finish"]
        paused_at: int | None = None
        pauses: list[tuple[int, int]] = []
        for e in wev:
            if e.kind == "queue" and e.ev == "pause":
                paused_at = e.t
            if e.kind == "queue" and e.ev == "resume":
                assert paused_at is not None
                pauses.append((paused_at, e.t))
                paused_at = None
        firmware = s.profiles[w].firmware
        if firmware:
            assert not pauses
        for p in (e for e in wev if e.kind == "press"):
            # Whatever the device's skew, the press never looks paused or older than its finish.
            for a, b in pauses:
                assert not (a - MAX_SKEW_S - 5 <= p.t <= b + MAX_SKEW_S + 5)
            if p.role == "stray":
                assert not firmware
                for f in fins:
                    assert not (f.t - MAX_SKEW_S - 10 <= p.t <= f.t + STRAY_CLEARANCE_S - 1)
                continue
            f = finishes[str(p.ticket)]
            assert f.window == w
            assert f.t + MIN_PRESS_DELAY_S <= p.t
            assert p.t + MAX_SKEW_S < f.t + RATING_WINDOW_S
            later = [x.t for x in fins if x.t > f.t]
            if later:
                assert p.t + MAX_SKEW_S < later[0], "press must not look like the next ticket's"
            assert p.t + MIN_SKEW_S > f.t

    presses: dict[str, list[Event]] = defaultdict(list)
    for e in ev:
        if e.kind == "press" and e.role != "stray":
            presses[str(e.ticket)].append(e)
    for _tk, ps in presses.items():
        assert ps[0].role == "first" and all(p.role == "again" for p in ps[1:])
        assert all(b.t >= a.t + 2 for a, b in itertools.pairwise(ps))
    for e in ev:
        if e.kind == "drop":
            assert e.slot is not None and wire.BALLOT_SLOTS[e.slot] == e.level
            if e.ticket is not None:
                assert e.t >= finishes[e.ticket].t + 60
        if e.kind == "sms":
            assert e.ticket not in presses, "SMS goes to citizens who did not rate on site"
    sms = [e.ticket for e in ev if e.kind == "sms"]
    assert len(sms) == len(set(sms)) == spec.tickets - len(presses)


def test_invariants_default_hall() -> None:
    check_invariants(HallSpec(windows=5, tickets=500, seed=7, firmware_windows=2))


@settings(max_examples=15, deadline=None)
@given(
    windows=st.integers(1, 12),
    tickets=st.integers(1, 400),
    seed=st.integers(0, 10_000),
    firmware=st.integers(0, 2),
)
def test_invariants_any_hall(windows: int, tickets: int, seed: int, firmware: int) -> None:
    check_invariants(
        HallSpec(
            windows=windows, tickets=tickets, seed=seed, firmware_windows=min(firmware, windows)
        )
    )


def test_overrun_day_keeps_drops_on_their_tickets_date() -> None:
    """A soak day can run past midnight; ticket numbers are per day, so a drop never crosses it."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    spec = HallSpec(windows=2, tickets=2000, seed=5)
    s = build(spec)
    tz = ZoneInfo(spec.tz)
    assert datetime.fromtimestamp(s.end, tz).date() > spec.day  # it does overrun
    finish = {e.ticket: e.t for e in s.events if e.kind == "queue" and e.ev == "finish"}
    drops = [e for e in s.events if e.kind == "drop" and e.ticket is not None]
    assert drops
    for d in drops:
        f = finish[d.ticket]
        assert d.t >= f + 60
        assert datetime.fromtimestamp(d.t, tz).date() == datetime.fromtimestamp(f, tz).date()
