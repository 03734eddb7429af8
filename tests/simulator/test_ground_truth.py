"""The ground-truth ledger: the counting rules by hand, the exact score, and the gateway's own pure
attribution core agreeing with the ledger on whole simulated days (any arrival order, any skew)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest

from gateway import attribution as attr
from gateway.config import Policy as AttrPolicy
from simulator.ground_truth import (
    HALL,
    Ledger,
    SlotRating,
    compute,
    fallback_score,
    one_rating,
    score_of,
)
from simulator.hall_model import MAX_SKEW_S, MIN_SKEW_S, Event, HallSpec, Script, build

SPEC = HallSpec(windows=2, tickets=3, seed=1, day=date(2026, 11, 23))
T = SPEC.epoch(SPEC.open_at)


def _script(events: list[Event]) -> Script:
    s = build(SPEC)
    s.events = sorted(events, key=lambda e: e.t)
    return s


def test_counting_rules_by_hand() -> None:
    ev = [
        Event(T, "queue", "A01", "A001", ev="finish", id="f1"),
        Event(T + 10, "press", "A01", "A001", "satisfied", role="first"),
        Event(T + 13, "press", "A01", "A001", "dissatisfied", role="again"),
        Event(T + 500, "press", "A01", None, "very_satisfied", role="stray"),
        Event(T + 100, "drop", "A01", "A001", "basically_satisfied", slot=1, role="first"),
        Event(T + 120, "drop", "A01", "A001", "dissatisfied", slot=2, role="again"),
        Event(T + 130, "drop", None, None, "satisfied", slot=0, role="unreadable"),
        Event(T + 900, "sms", "A02", "B001", "dissatisfied", id="S1"),
        Event(T + 900, "sms", "A02", "B002", None, id="S2"),
        Event(T + 99999, "phone", "A02", "B001", "satisfied", id="P1"),
        Event(T + 99999, "phone", "A01", "A001", None, id="P2"),
    ]
    led = compute(_script(ev))
    a01, a02 = led.windows["A01"], led.windows["A02"]
    assert a01["evaluator"]["satisfied"] == 1 and sum(a01["evaluator"].values()) == 1
    # 一次一评: A001 was rated on the evaluator first; its readable drop is stored, not counted
    assert sum(a01["ballot_box"].values()) == 0
    assert led.unattributed["ballot_box"]["satisfied"] == 1
    assert sum(led.hall_counts["ballot_box"].values()) == 1  # unreadable counts for the hall
    assert a02["sms"]["dissatisfied"] == 1 and sum(a02["sms"].values()) == 1
    # The imported call-back is dated the next day: its own day, another slot than the SMS's
    assert a02["phone"]["satisfied"] == 1 and sum(led.windows["A01"]["phone"].values()) == 0
    assert led.flags == {"misuse": 1, "no_ticket": 1, "duplicate_ticket": 1, "one_rating": 1}
    assert led.excluded == {"evaluator": 2, "ballot_box": 2, "sms": 0, "phone": 0, "online": 0}
    assert led.stats["sms_sent"] == 2 and led.stats["phone_connected"] == 1


def test_one_rating_per_ticket_slot_earliest_then_channel_order() -> None:
    day = SPEC.day.isoformat()
    ev = [
        # C001: SMS reply, then the next day's call-back naming the ticket day: phone loses
        Event(T + 900, "sms", "A01", "C001", "satisfied", id="S1", ticket_day=day),
        Event(T + 90000, "phone", "A01", "C001", "dissatisfied", id="P1", ticket_day=day),
        # C002: online and a drop at the same second: ballot_box comes first in the order
        Event(T + 200, "drop", "A02", "C002", "dissatisfied", slot=2, role="first"),
        Event(T + 200, "online", "A02", "C002", "very_satisfied", id="W1", ticket_day=day),
        # C003: an online rating the next day loses to the SMS of the ticket day
        Event(T + 1000, "sms", "A02", "C003", "basically_satisfied", id="S2", ticket_day=day),
        Event(T + 86400, "online", "A02", "C003", "satisfied", id="W2", ticket_day=day),
        # C004: online only
        Event(T + 86400, "online", "A01", "C004", "very_dissatisfied", id="W3", ticket_day=day),
        # C005: a drop, and a press later (skew cannot swap them): the drop counts
        Event(T + 300, "drop", "A01", "C005", "satisfied", slot=0, role="first"),
        Event(T + 400, "press", "A01", "C005", "dissatisfied", role="first"),
    ]
    led = compute(_script(ev))
    a01, a02 = led.windows["A01"], led.windows["A02"]
    assert a01["sms"]["satisfied"] == 1 and sum(a01["phone"].values()) == 0
    assert a02["ballot_box"]["dissatisfied"] == 1
    assert a02["sms"]["basically_satisfied"] == 1 and sum(a02["online"].values()) == 0
    assert a01["online"] == {**dict.fromkeys(a01["online"], 0), "very_dissatisfied": 1}
    assert a01["ballot_box"]["satisfied"] == 1 and sum(a01["evaluator"].values()) == 0
    assert led.excluded == {"evaluator": 1, "ballot_box": 0, "sms": 0, "phone": 1, "online": 2}
    assert led.flags["one_rating"] == 4 and led.stats["online_ratings"] == 3
    counted = sum(sum(levels.values()) for levels in led.hall_counts.values())
    assert counted == 5  # one per ticket


def test_score_is_exact_30_30_40() -> None:
    counts = {
        "evaluator": {"very_satisfied": 2, "satisfied": 1, "dissatisfied": 1},
        "ballot_box": {"basically_satisfied": 1},
        "sms": {"satisfied": 1, "very_dissatisfied": 2},
        "phone": {"satisfied": 3, "dissatisfied": 1},
    }
    # on-site 3/5, SMS 1/3, phone 3/4
    want = (
        Fraction(3, 10) * Fraction(3, 5)
        + Fraction(3, 10) * Fraction(1, 3)
        + Fraction(2, 5) * Fraction(3, 4)
    )
    assert score_of(counts)["exact"] == f"{want.numerator}/{want.denominator}"
    assert fallback_score(counts, ("very_satisfied", "satisfied")) == want


def test_missing_channel_renormalises() -> None:
    counts = {"evaluator": {"satisfied": 1, "dissatisfied": 1}, "phone": {"satisfied": 1}}
    want = Fraction(3, 7) * Fraction(1, 2) + Fraction(4, 7)
    assert score_of(counts)["exact"] == f"{want.numerator}/{want.denominator}"
    assert fallback_score(counts, ("very_satisfied", "satisfied")) == want


def test_ledger_round_trip(tmp_path: Path) -> None:
    led = compute(build(HallSpec(windows=3, tickets=120, seed=5)))
    p = led.write(tmp_path / "ledger.json")
    again = Ledger.read(p)
    assert again == led
    assert again.scores[HALL]["exact"] is not None


def _votes_from_script(script: Script, rng: random.Random, with_rq: float) -> list[attr.Vote]:
    """What devices would send for the script: the firmware evaluator's flags, device skew, and a
    rating-request echo on some presses (the request may or may not have arrived in time)."""
    skew = {
        d: rng.randint(MIN_SKEW_S, MAX_SKEW_S)
        for d in [script.spec.evaluator_id(w) for w in script.spec.window_codes()]
        + script.spec.ballot_ids()
    }
    votes: list[attr.Vote] = []
    seq: Counter[str] = Counter()
    answered: set[str] = set()
    for e in script.events:
        if e.kind not in ("press", "drop"):
            continue
        assert e.device is not None and e.level is not None
        seq[e.device] += 1
        key = f"{e.device}:boot1:{seq[e.device]}"
        t = e.t + skew[e.device]
        if e.kind == "drop":
            votes.append(attr.Vote(key, attr.BALLOT_BOX, e.device, t, e.level, tk=e.ticket))
            continue
        if e.role == "stray":
            votes.append(
                attr.Vote(key, attr.EVALUATOR, e.device, t, e.level, device_flags=("no_request",))
            )
        elif e.role == "first" and rng.random() < with_rq:
            answered.add(str(e.ticket))
            votes.append(
                attr.Vote(
                    key, attr.EVALUATOR, e.device, t, e.level, rq=e.id, tk=e.ticket, w=e.window
                )
            )
        elif e.role == "again" and e.ticket in answered:
            votes.append(
                attr.Vote(
                    key,
                    attr.EVALUATOR,
                    e.device,
                    t,
                    e.level,
                    rq=e.id,
                    tk=e.ticket,
                    w=e.window,
                    device_flags=("misuse",),
                )
            )
        else:
            votes.append(
                attr.Vote(key, attr.EVALUATOR, e.device, t, e.level, device_flags=("no_request",))
            )
    return votes


@pytest.mark.parametrize("seed", [1, 7, 42])
@pytest.mark.parametrize("with_rq", [0.0, 0.6, 1.0])
def test_gateway_attribution_agrees_with_ledger(seed: int, with_rq: float) -> None:
    script = build(HallSpec(windows=4, tickets=250, seed=seed))
    led = compute(script)
    rng = random.Random(seed)
    votes = _votes_from_script(script, rng, with_rq)
    events = [
        attr.QueueEvent(str(e.id), str(e.ev), e.t, e.window, e.ticket, e.staff, e.matter)
        for e in script.events
        if e.kind == "queue"
    ]
    rng.shuffle(events)  # arrival order must not matter
    devices: dict[str, str | None] = {
        script.spec.evaluator_id(w): w for w in script.spec.window_codes()
    }
    devices.update({b: None for b in script.spec.ballot_ids()})
    results = attr.attribute_all(events, votes, devices, AttrPolicy())
    counted: Counter[tuple[str | None, str, str]] = Counter()
    flags: Counter[str] = Counter()
    slotted: list[SlotRating] = []
    day = script.spec.day.isoformat()
    for v in votes:
        r = results[v.key]
        if r.counted and r.ticket is not None:
            # then the server's 一次一评, by the devices' (skewed) times
            assert r.window is not None
            slotted.append(SlotRating(int(v.t), v.channel, r.window, v.level, (r.ticket, day)))
        elif r.counted:
            counted[(r.window, v.channel, v.level)] += 1
        for f in r.flags:
            flags[f] += 1
    winners, losers = one_rating(slotted)
    for win in winners:
        counted[(win.window, win.channel, win.level)] += 1
    assert len(losers) == led.excluded["evaluator"] + led.excluded["ballot_box"] - sum(
        led.flags[f] for f in ("misuse", "no_ticket", "duplicate_ticket")
    )
    for w, chans in led.windows.items():
        for ch in ("evaluator", "ballot_box"):
            for lv, n in chans[ch].items():
                assert counted[(w, ch, lv)] == n, (w, ch, lv)
    for lv, n in led.unattributed["ballot_box"].items():
        assert counted[(None, "ballot_box", lv)] == n
    assert flags["misuse"] == led.flags["misuse"]
    assert flags["no_ticket"] == led.flags["no_ticket"]
    assert flags["duplicate_ticket"] == led.flags["duplicate_ticket"]
    assert flags["paused"] == 0
