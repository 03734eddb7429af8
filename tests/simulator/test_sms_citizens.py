"""The live SMS channel's plan (simulator/sms_citizens.py, docs/simulator.md "The SMS channel")."""

from __future__ import annotations

from datetime import date

from simulator import sms_citizens
from simulator.hall_model import HallSpec, build


def _plan(seed: int = 5) -> tuple[object, list[sms_citizens.Citizen]]:
    spec = HallSpec(windows=3, tickets=150, seed=seed, day=date(2025, 3, 3))
    script, citizens = sms_citizens.plan(build(spec), spec, seed)
    return sms_citizens.retime(script, citizens), citizens


def test_phones_only_for_unrated_citizens_and_counted_sms_are_in_window_ratings() -> None:
    script, citizens = _plan()
    events = script.events  # type: ignore[attr-defined]
    by_ticket = {c.ticket: c for c in citizens}
    pressed = {e.ticket for e in events if e.kind == "press" and e.role == "first"}
    dropped = {e.ticket for e in events if e.kind == "drop" and e.ticket}
    assert citizens and not (set(by_ticket) & (pressed | dropped))
    assert len({c.phone for c in citizens}) == len(citizens)
    fin_phones = {e.ticket: e.phone for e in events if e.kind == "queue" and e.ev == "finish"}
    assert all(fin_phones[c.ticket] == c.phone for c in citizens)
    sms = [e for e in events if e.kind == "sms"]
    counted = [c for c in citizens if c.kind in ("digits", "words")]
    assert sorted(e.ticket for e in sms) == sorted(c.ticket for c in counted)
    assert all(e.level == by_ticket[e.ticket].level for e in sms)
    sent = sms_citizens.send_time(script)  # type: ignore[arg-type]
    window = sms_citizens.REPLY_WINDOW_H * 3600
    for c in citizens:
        assert (c.after_s >= window) == (c.kind == "late")
    assert all(e.t == sent + by_ticket[e.ticket].after_s for e in sms)


def test_plan_is_seeded() -> None:
    assert _plan(9)[1] == _plan(9)[1]
