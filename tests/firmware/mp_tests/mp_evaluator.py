"""Evaluator state machine: every transition, flags, timeouts, paused, layouts."""

from evaluator import IDLE, PAUSED, REQUESTED, THANKS, Evaluator

L5 = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")


def _votes(actions):
    return [a for a in actions if a[0] == "vote"]


def test_request_press_thanks_idle():
    ev = Evaluator(timeout_ms=30000, thanks_ms=3000)
    assert ev.request("rq1", "A012", "A03", 0, 1000) == [("show", "ask")]
    assert ev.state == REQUESTED
    out = ev.press(1, 2000)
    assert out == [("vote", "satisfied", "rq1", "A012", "A03", ()), ("show", "thanks")]
    assert ev.state == THANKS
    assert ev.tick(4999) == []
    assert ev.tick(5000) == [("show", "idle")] and ev.state == IDLE


def test_later_presses_are_misuse_then_no_request():
    ev = Evaluator(thanks_ms=3000, misuse_ms=10000)
    ev.request("rq1", "A012", "A03", 0, 0)
    ev.press(0, 100)
    assert _votes(ev.press(4, 200)) == [
        ("vote", "very_dissatisfied", "rq1", "A012", "A03", ("misuse",))
    ]
    ev.tick(3100)  # thanks over, idle
    assert _votes(ev.press(2, 5000))[0][5] == ("misuse",)
    ev.tick(13100)  # misuse window over
    assert _votes(ev.press(2, 13200)) == [
        ("vote", "basically_satisfied", None, None, None, ("no_request",))
    ]


def test_press_without_request_is_flagged_and_changes_nothing():
    ev = Evaluator()
    ev.configure(window="A03")
    assert ev.press(0, 10) == [("vote", "very_satisfied", None, None, "A03", ("no_request",))]
    assert ev.state == IDLE


def test_request_timeout_returns_to_idle():
    ev = Evaluator(timeout_ms=30000)
    ev.request("rq1", "A1", "W1", 0, 0)
    assert ev.tick(29999) == []
    assert ev.tick(30000) == [("show", "idle")]
    assert _votes(ev.press(0, 30001))[0][5] == ("no_request",)


def test_request_ttl_overrides_timeout():
    ev = Evaluator(timeout_ms=30000)
    ev.request("rq1", "A1", "W1", 5, 0)
    assert ev.tick(5000) == [("show", "idle")]


def test_new_request_after_answer_counts_again():
    ev = Evaluator()
    ev.request("rq1", "A1", "W1", 0, 0)
    ev.press(0, 1)
    ev.request("rq2", "A2", "W1", 0, 10)
    assert _votes(ev.press(3, 20)) == [("vote", "dissatisfied", "rq2", "A2", "W1", ())]


def test_paused_ignores_requests_and_flags_presses():
    ev = Evaluator()
    assert ev.configure(paused=True, now=0) == [("show", "paused")]
    assert ev.state == PAUSED
    assert ev.request("rq1", "A1", "W1", 0, 1) == []
    assert _votes(ev.press(1, 2))[0][5] == ("paused", "no_request")
    assert ev.configure(paused=False, now=3) == [("show", "idle")]


def test_three_button_layout_and_out_of_range_button():
    ev = Evaluator()
    ev.configure(levels=("satisfied", "basically_satisfied", "dissatisfied"))
    ev.request("rq1", "A1", "W1", 0, 0)
    assert ev.press(4, 1) == []  # no such button in this layout
    assert _votes(ev.press(2, 2))[0][1] == "dissatisfied"


def test_screens_never_name_a_level():
    ev = Evaluator()
    shown = []
    shown += ev.request("rq1", "A1", "W1", 0, 0)
    for b in range(5):
        shown += ev.press(b, 1 + b)
    shown += ev.tick(100000)
    for a in shown:
        if a[0] == "show":
            assert a[1] not in L5
