"""Debounce filter: bouncy contacts give one press; glitches give none."""

from buttons import PressFilter


def test_bouncy_press_gives_one_press_and_one_release():
    f = PressFilter(1, debounce_ms=30, active=0)
    events = []
    t = 0
    for v in (0, 1, 0, 1, 0):  # contact bounce, 1 ms apart
        f.edge(0, v, t)
        t += 1
        events += f.poll(t)
    for later in range(t, t + 100, 5):
        events += f.poll(later)
    assert events == [(0, 0)]
    f.edge(0, 1, 200)
    f.edge(0, 0, 201)
    f.edge(0, 1, 202)
    assert f.poll(220) == []
    assert f.poll(232) == [(0, 1)]
    assert not f.busy()


def test_glitch_shorter_than_debounce_is_ignored():
    f = PressFilter(2, debounce_ms=30)
    f.edge(1, 0, 0)
    f.edge(1, 1, 10)
    assert f.poll(100) == []
    assert f.stable(1) == 1 and not f.busy()


def test_inputs_are_independent():
    f = PressFilter(3, debounce_ms=10)
    f.edge(0, 0, 0)
    f.edge(2, 0, 5)
    assert f.poll(10) == [(0, 0)]
    assert f.poll(15) == [(2, 0)]


def test_press_counts_by_edge_times_when_no_poll_ran_in_between():
    f = PressFilter(1, debounce_ms=30)
    f.edge(0, 0, 0)  # pressed at 0
    f.edge(0, 1, 45)  # released at 45; the poller was starved the whole time
    assert f.busy()
    assert f.poll(50) == [(0, 0)]
    assert f.poll(80) == [(0, 1)]
    assert not f.busy()


def test_short_glitch_between_polls_still_ignored():
    f = PressFilter(1, debounce_ms=30)
    f.edge(0, 0, 0)
    f.edge(0, 1, 20)
    assert f.poll(100) == []
