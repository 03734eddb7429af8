"""Attribution rules, one test per rule, plus the out-of-order convergence property."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.attribution import (
    ATTRIBUTED,
    BALLOT_BOX,
    EVALUATOR,
    NO_TICKET,
    UNATTRIBUTED,
    Attribution,
    Attributor,
    QueueEvent,
    Vote,
    attribute_all,
)
from gateway.config import Policy
from gateway.records import ticket_record

T0 = 1795399200  # 2026-11-23 10:00 Asia/Shanghai
DEVICES = {"EV-A01": "A01", "EV-A02": "A02", "EV-A03": "A03", "BB-01": None}
_n = iter(range(10**9))


def q(
    ev: str,
    t: int,
    w: str | None = None,
    tk: str | None = None,
    staff: str | None = None,
    m: str | None = None,
    to: str | None = None,
    id: str | None = None,
) -> QueueEvent:
    return QueueEvent(id or f"q{next(_n)}", ev, T0 + t, w, tk, staff, m, to)


def ev_vote(
    dev: str, t: int, level: str = "satisfied", seq: int | None = None, **kw: object
) -> Vote:
    return Vote(f"{dev}:b1:{seq or next(_n)}", EVALUATOR, dev, T0 + t, level, **kw)  # type: ignore[arg-type]


def drop(t: int, tk: str | None, level: str = "satisfied", dev: str = "BB-01") -> Vote:
    return Vote(f"{dev}:b1:{next(_n)}", BALLOT_BOX, dev, T0 + t, level, tk=tk)


def run(events: list[QueueEvent], votes: list[Vote], **policy: object) -> dict[str, Attribution]:
    return attribute_all(events, votes, DEVICES, Policy(**policy))  # type: ignore[arg-type]


def served_a03() -> list[QueueEvent]:
    return [
        q("login", 0, "A03", staff="1001"),
        q("call", 10, "A03", tk="A012", m="370000-1"),
        q("finish", 100, "A03", tk="A012", id="fin-A012"),
    ]


# ---- evaluator -------------------------------------------------------------------------------


def test_vote_goes_to_ticket_finished_at_its_window_and_staff_logged_in() -> None:
    v = ev_vote("EV-A03", 130)
    r = run(served_a03(), [v])[v.key]
    assert r == Attribution("A03", "A012", "1001", "370000-1", ATTRIBUTED, ())
    assert r.counted


def test_vote_after_rating_window_is_no_ticket_and_not_counted_by_default() -> None:
    v = ev_vote("EV-A03", 100 + 121)
    r = run(served_a03(), [v])[v.key]
    assert (r.attribution, r.ticket, r.staff, r.flags) == (NO_TICKET, None, "1001", ("no_ticket",))
    assert not r.counted


def test_rating_window_is_configurable() -> None:
    v = ev_vote("EV-A03", 100 + 200)
    assert run(served_a03(), [v], rating_window_s=300)[v.key].ticket == "A012"


def test_no_ticket_counts_when_policy_says_so() -> None:
    v = ev_vote("EV-A03", 5)
    r = run(served_a03(), [v], count_no_ticket=True)[v.key]
    assert r.attribution == NO_TICKET and r.counted


def test_finish_at_another_window_does_not_attribute() -> None:
    v = ev_vote("EV-A02", 130)
    assert run(served_a03(), [v])[v.key].attribution == NO_TICKET


def test_second_press_for_same_ticket_is_misuse() -> None:
    a, b = ev_vote("EV-A03", 120), ev_vote("EV-A03", 125, "dissatisfied")
    r = run(served_a03(), [b, a])
    assert r[a.key].counted
    assert r[b.key].flags == ("misuse",) and r[b.key].ticket == "A012"


def test_press_for_the_next_ticket_counts_again() -> None:
    events = [*served_a03(), q("call", 140, "A03", tk="A013"), q("finish", 200, "A03", tk="A013")]
    a, b = ev_vote("EV-A03", 120), ev_vote("EV-A03", 210)
    r = run(events, [a, b])
    assert (r[a.key].ticket, r[b.key].ticket) == ("A012", "A013")
    assert r[a.key].counted and r[b.key].counted


def test_device_flags_are_kept() -> None:
    a = ev_vote("EV-A03", 120, device_flags=("misuse",))
    b = ev_vote("EV-A03", 121)
    r = run(served_a03(), [a, b])
    assert r[a.key].flags == ("misuse",)
    assert r[b.key].counted  # a device-flagged press does not use up the ticket's rating


def test_vote_while_paused_is_flagged() -> None:
    events = [*served_a03(), q("pause", 110, "A03")]
    v = ev_vote("EV-A03", 130)
    assert run(events, [v])[v.key].flags == ("paused",)
    events.append(q("resume", 125, "A03"))
    assert run(events, [v])[v.key].counted


def test_device_reported_paused_flag() -> None:
    v = ev_vote("EV-A03", 130, device_flags=("paused",))
    assert run(served_a03(), [v])[v.key].flags == ("paused",)


def test_echoed_request_id_wins_over_time() -> None:
    events = [*served_a03(), q("finish", 125, "A03", tk="A013")]
    v = ev_vote("EV-A03", 130, rq="fin-A012", tk="A012", w="A03")
    assert run(events, [v])[v.key].ticket == "A012"


def test_echoed_request_unknown_until_its_finish_arrives_is_no_ticket() -> None:
    """An unknown request id is a hint the queue log does not confirm: stored, flagged, not
    counted; the finish with that id arriving later re-attributes the vote."""
    a = Attributor(DEVICES, Policy())
    a.add_queue_event(q("login", 0, "A03", staff="1002"))
    v = ev_vote("EV-A03", 130, rq="fin-X", tk="A099", w="A03")
    a.add_vote(v)
    r = a.result(v.key)
    assert (r.window, r.ticket, r.staff, r.attribution, r.flags) == (
        "A03",
        None,
        "1002",
        NO_TICKET,
        ("no_ticket",),
    )
    assert v.key in a.add_queue_event(q("finish", 100, "A03", tk="A099", id="fin-X"))
    r = a.result(v.key)
    assert (r.window, r.ticket, r.attribution, r.counted) == ("A03", "A099", ATTRIBUTED, True)


def test_unknown_request_is_not_counted_even_when_no_ticket_counts() -> None:
    v = ev_vote("EV-A03", 130, rq="made-up", tk="A012", w="A03")
    r = run(served_a03(), [v], count_no_ticket=True)[v.key]
    assert r.flags == ("no_ticket",) and r.ticket is None and not r.counted


def test_device_window_claim_other_than_binding_is_window_mismatch() -> None:
    v = ev_vote("EV-A01", 130, rq="fin-A012", tk="A012", w="A03")
    w = ev_vote("EV-A01", 131, w="NEWWIN")
    r = run(served_a03(), [v, w])
    assert r[v.key].window == r[w.key].window == "A01"
    assert "window_mismatch" in r[v.key].flags and "window_mismatch" in r[w.key].flags
    assert not r[v.key].counted and not r[w.key].counted


def test_known_finish_at_another_window_is_window_mismatch_and_uses_up_nothing() -> None:
    events = [*served_a03(), q("finish", 110, "A01", tk="A100")]
    hostile = ev_vote("EV-A01", 120, rq="fin-A012", tk="A012", w="A01")
    honest = ev_vote("EV-A03", 125, rq="fin-A012", tk="A012", w="A03")
    r = run(events, [hostile, honest])
    assert r[hostile.key].window == "A01" and r[hostile.key].flags == ("window_mismatch",)
    assert r[honest.key].counted and r[honest.key].ticket == "A012"
    # The hostile vote does not take A100's rating either.
    later = ev_vote("EV-A01", 126)
    assert run(events, [hostile, later])[later.key].counted


def test_report_3_invented_hints_count_for_no_window() -> None:
    """Issue #11 report 3: EV-A01 (bound to A01) sends 20 votes with invented rq/tk and
    "w": "A03", and 5 with "w": "NEWWIN": none counts, all are flagged, all stay at A01."""
    votes = [ev_vote("EV-A01", 130 + i, rq=f"fake-{i}", tk=f"Z{i:03d}", w="A03") for i in range(20)]
    votes += [ev_vote("EV-A01", 160 + i, rq=f"odd-{i}", tk=f"Y{i}", w="NEWWIN") for i in range(5)]
    r = run(served_a03(), votes)
    assert all(not r[v.key].counted and r[v.key].flags for v in votes)
    assert {r[v.key].window for v in votes} == {"A01"}
    assert all("window_mismatch" in r[v.key].flags for v in votes)


def test_finish_staff_field_beats_login_state() -> None:
    events = [q("login", 0, "A03", staff="1001"), q("finish", 100, "A03", tk="A1", staff="1005")]
    v = ev_vote("EV-A03", 110)
    assert run(events, [v])[v.key].staff == "1005"


def test_logout_before_finish_leaves_staff_unknown() -> None:
    events = [
        q("login", 0, "A03", staff="1001"),
        q("logout", 50, "A03"),
        q("finish", 100, "A03", tk="A1"),
    ]
    v = ev_vote("EV-A03", 110)
    assert run(events, [v])[v.key].staff is None


def test_unknown_device_is_flagged() -> None:
    v = ev_vote("EV-Z9", 110)
    r = run(served_a03(), [v])[v.key]
    assert r.attribution == UNATTRIBUTED and "unknown_device" in r.flags


def test_press_slightly_before_finish_within_clock_skew() -> None:
    v = ev_vote("EV-A03", 97)
    assert run(served_a03(), [v])[v.key].ticket == "A012"


# ---- ballot box ------------------------------------------------------------------------------


def test_drop_with_ticket_goes_to_window_and_staff_that_served_it() -> None:
    d = drop(400, "A012")
    r = run(served_a03(), [d])[d.key]
    assert r == Attribution("A03", "A012", "1001", "370000-1", ATTRIBUTED, ())


def test_drop_without_ticket_counts_for_hall_unattributed() -> None:
    d = drop(400, None)
    r = run(served_a03(), [d])[d.key]
    assert r.attribution == UNATTRIBUTED and r.window is None and r.counted


def test_ticket_dropped_twice_counts_once() -> None:
    a, b = drop(400, "A012"), drop(500, "A012", "dissatisfied")
    r = run(served_a03(), [b, a])
    assert r[a.key].counted
    assert r[b.key].flags == ("duplicate_ticket",)


def test_same_ticket_number_next_day_is_another_ticket() -> None:
    a, b = drop(400, "A012"), drop(400 + 86400, "A012")
    r = run(served_a03(), [a, b])
    assert r[a.key].counted and r[b.key].counted
    assert r[b.key].window is None  # no queue record that day


def test_drop_of_ticket_unknown_to_queue_log_keeps_the_number() -> None:
    d = drop(400, "B777")
    r = run(served_a03(), [d])[d.key]
    assert (r.attribution, r.ticket, r.counted) == (UNATTRIBUTED, "B777", True)


def test_ticket_transferred_then_finished_elsewhere() -> None:
    events = [
        q("login", 0, "A01", staff="1002"),
        q("call", 10, "A03", tk="A5"),
        q("transfer", 30, "A03", tk="A5", to="A01"),
        q("call", 40, "A01", tk="A5"),
        q("finish", 90, "A01", tk="A5"),
    ]
    d = drop(300, "A5")
    assert run(events, [d])[d.key].window == "A01"


def test_ticket_record_from_queue_log() -> None:
    a = Attributor(DEVICES, Policy())
    for e in served_a03():
        a.add_queue_event(e)
    rec = ticket_record(a, "H1", "A012", "2026-11-23")
    assert rec["key"] == "H1:2026-11-23:A012"
    assert rec["window"] == "A03" and rec["staff"] == "1001" and rec["matter"] == "370000-1"
    assert rec["called_at"] == "2026-11-23T10:00:10+08:00"
    assert rec["finished_at"] == "2026-11-23T10:01:40+08:00"
    assert rec["phone"] is None  # the queue system reported none


def test_ticket_record_carries_the_phone_the_queue_system_reported() -> None:
    a = Attributor(DEVICES, Policy())
    for e in served_a03():
        a.add_queue_event(e)
    a.add_queue_event(QueueEvent("p1", "call", T0 + 5, "A03", "A012", ph="13800000000"))
    a.add_queue_event(QueueEvent("p2", "finish", T0 + 95, "A03", "A012", ph="+8613812345678"))
    rec = ticket_record(a, "H1", "A012", "2026-11-23")
    assert rec["phone"] == "+8613812345678"  # the latest reported that day


# ---- out of order ----------------------------------------------------------------------------

WINDOWS = ["A01", "A02", "A03"]
TICKETS = ["A1", "A2", "A3", "A4"]
STAFF = ["1001", "1002"]


@st.composite
def hall_day(draw: st.DrawFn) -> tuple[list[QueueEvent], list[Vote]]:
    """A small random hall: queue events and votes with clustered times, so that rating
    windows, pauses, repeats and duplicates all collide often."""
    n_events = draw(st.integers(0, 14))
    events = []
    for i in range(n_events):
        ev = draw(
            st.sampled_from(
                [
                    "login",
                    "logout",
                    "call",
                    "finish",
                    "finish",
                    "pause",
                    "resume",
                    "transfer",
                    "recall",
                ]
            )
        )
        events.append(
            QueueEvent(
                f"e{i}",
                ev,
                T0 + draw(st.integers(0, 60)) * 3,
                draw(st.sampled_from(WINDOWS)),
                draw(st.sampled_from(TICKETS))
                if ev not in ("login", "logout", "pause", "resume")
                else None,
                draw(st.sampled_from([*STAFF, None])),
                draw(st.sampled_from(["M1", "M2", None])),
                draw(st.sampled_from(WINDOWS)) if ev == "transfer" else None,
            )
        )
    votes = []
    for i in range(draw(st.integers(0, 10))):
        t = T0 + draw(st.integers(0, 70)) * 3
        if draw(st.booleans()):
            dev = draw(st.sampled_from(["EV-A01", "EV-A02", "EV-A03", "EV-Z9"]))
            rq = draw(st.sampled_from([None, None, "e0", "e1", "e5", "nope"]))
            # Hostile hints too: a window claim without a request, an unknown window.
            claim = st.sampled_from([*WINDOWS, "NEWWIN"])
            votes.append(
                Vote(
                    f"{dev}:b:{i}",
                    EVALUATOR,
                    dev,
                    t,
                    "satisfied",
                    rq=rq,
                    tk=draw(st.sampled_from([*TICKETS, None])),
                    w=draw(st.one_of(st.none(), claim)),
                    device_flags=tuple(
                        draw(
                            st.sets(st.sampled_from(["misuse", "paused", "no_request"]), max_size=2)
                        )
                    ),
                )
            )
        else:
            votes.append(
                Vote(
                    f"BB-01:b:{i}",
                    BALLOT_BOX,
                    "BB-01",
                    t,
                    "satisfied",
                    tk=draw(st.sampled_from([*TICKETS, None])),
                )
            )
    return events, votes


@settings(max_examples=300, deadline=None)
@given(hall_day(), st.randoms(use_true_random=False), st.booleans())
def test_attribution_converges_whatever_the_arrival_order(
    day: tuple[list[QueueEvent], list[Vote]], rnd: random.Random, count_no_ticket: bool
) -> None:
    events, votes = day
    policy = Policy(rating_window_s=120, clock_skew_s=5, count_no_ticket=count_no_ticket)
    expected = attribute_all(events, votes, DEVICES, policy)
    items: list[QueueEvent | Vote] = [*events, *votes]
    rnd.shuffle(items)
    a = Attributor(DEVICES, policy)
    seen: dict[str, Attribution] = {}
    for it in items:
        changed = a.add_queue_event(it) if isinstance(it, QueueEvent) else a.add_vote(it)
        for k in changed:
            seen[k] = a.result(k)
    # What the gateway has forwarded (the last result it was told about per vote) equals the
    # from-scratch attribution of the whole set: no affected vote was missed.
    assert seen == expected
    assert a.results() == expected


def test_late_login_before_a_requested_finish_far_after_the_press_sets_its_staff() -> None:
    """Found by the property test: the press (device clock behind) precedes the finish it answers
    by more than the clock skew, and the window's login arrives last."""
    a = Attributor(DEVICES, Policy(rating_window_s=120, clock_skew_s=5))
    t0 = 1795399200
    a.add_queue_event(QueueEvent("e0", "finish", t0 + 6, "A02", "A1", None, "M1", None))
    a.add_vote(Vote("EV-A02:b:0", EVALUATOR, "EV-A02", t0, "satisfied", rq="e0", tk="A1", w="A02"))
    assert a.result("EV-A02:b:0").staff is None
    changed = a.add_queue_event(QueueEvent("e2", "login", t0 + 6, "A02", None, "1001", None, None))
    assert "EV-A02:b:0" in changed
    assert a.result("EV-A02:b:0").staff == "1001"


def test_late_finish_just_after_the_press_reattributes_it() -> None:
    a = Attributor(DEVICES, Policy())
    v = ev_vote("EV-A03", 98)
    a.add_vote(v)
    assert a.result(v.key).attribution == NO_TICKET
    changed = a.add_queue_event(q("finish", 100, "A03", tk="A012"))
    assert v.key in changed and a.result(v.key).ticket == "A012"


def test_late_login_changes_staff_of_earlier_vote() -> None:
    a = Attributor(DEVICES, Policy())
    a.add_queue_event(q("finish", 100, "A03", tk="A012"))
    d = drop(400, "A012")
    v = ev_vote("EV-A03", 110)
    a.add_vote(d)
    a.add_vote(v)
    assert a.result(v.key).staff is None
    changed = a.add_queue_event(q("login", 0, "A03", staff="1001"))
    assert {v.key, d.key} <= changed
    assert a.result(v.key).staff == a.result(d.key).staff == "1001"
