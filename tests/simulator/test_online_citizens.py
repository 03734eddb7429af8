"""Who rates online in a simulated day (simulator/online_citizens.py): seeded, only citizens who
rated nothing on site and left no phone, only within the server's default rating period."""

from __future__ import annotations

from datetime import date, timedelta

from simulator import online_citizens as oc
from simulator import sms_citizens
from simulator.ground_truth import compute
from simulator.hall_model import HallSpec, build

SPEC = HallSpec(windows=4, tickets=300, seed=11, day=date(2026, 11, 23))
AT = 1_796_000_000  # the plan time: the day after SPEC.day
TODAY = SPEC.day + timedelta(days=1)


def test_plan_is_seeded_and_picks_only_unrated_citizens_without_a_phone() -> None:
    script, citizens = sms_citizens.plan(build(SPEC), SPEC, SPEC.seed)
    script = sms_citizens.retime(script, citizens)
    a, first = oc.plan(script, 0.5, SPEC.seed, AT, TODAY)
    b, second = oc.plan(script, 0.5, SPEC.seed, AT, TODAY)
    assert first == second and a.events == b.events and first
    on_site = {e.ticket for e in script.events if e.kind in ("press", "drop") and e.ticket}
    phones = {c.ticket for c in citizens}
    assert not {c.ticket for c in first} & (on_site | phones)
    online = [e for e in a.events if e.kind == "online"]
    assert [(e.ticket, e.level, e.t, e.ticket_day) for e in online] == [
        (c.ticket, c.level, AT, "2026-11-23") for c in first
    ]
    for c in first:
        fields = c.form()
        assert fields["level"] == c.level and fields["lang"] == "zh"
        assert fields.get("reasons", []) == list(c.reasons)
        assert bool(c.reasons) == (c.level in oc.DISSATISFIED)
    led = compute(a)
    assert sum(sum(w["online"].values()) for w in led.windows.values()) == len(first)
    assert led.excluded["online"] == 0  # nobody else rated these tickets


def test_share_and_rating_period_bound_the_online_citizens() -> None:
    script = build(SPEC)
    assert oc.plan(script, 0.0, SPEC.seed, AT, TODAY)[1] == []
    assert len(oc.plan(script, 1.0, SPEC.seed, AT, TODAY)[1]) > len(
        oc.plan(script, 0.3, SPEC.seed, AT, TODAY)[1]
    )
    too_late = SPEC.day + timedelta(days=oc.RATING_DAYS + 1)
    assert oc.plan(script, 1.0, SPEC.seed, AT, too_late)[1] == []
    assert oc.plan(script, 1.0, SPEC.seed, AT, SPEC.day - timedelta(days=1))[1] == []
    assert oc.plan(script, 1.0, SPEC.seed, AT, SPEC.day + timedelta(days=oc.RATING_DAYS))[1]


def test_an_sms_reply_too_close_to_the_online_time_keeps_the_citizen_off_line() -> None:
    script = build(SPEC)  # the imported SMS: replies the same day
    last_sms = max(e.t for e in script.events if e.kind == "sms")
    at = last_sms + 60
    near = {e.ticket for e in script.events if e.kind == "sms" and e.t > at - oc.SMS_CLEARANCE_S}
    earlier = {e.ticket for e in script.events if e.kind == "sms"} - near
    _, chosen = oc.plan(script, 1.0, SPEC.seed, at, SPEC.day)
    assert near and not {c.ticket for c in chosen} & near
    # texted long before: rated online after the SMS reply, the online rating loses (一次一评)
    both = {c.ticket for c in chosen} & earlier
    assert both
    replied = {e.ticket for e in script.events if e.kind == "sms" and e.level} & both
    led = compute(oc.plan(script, 1.0, SPEC.seed, at, SPEC.day)[0])
    assert replied and led.excluded["online"] == len(replied)
