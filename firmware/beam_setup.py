"""Ballot-box optics: each slot's IR duty (calibration) and the emitter self-test. Loaded at boot
by startup.self_test and by the idle re-check, dropped after (docs/firmware.md, Ballot box).

The 38 kHz PWM duty of a slot's emitter driver sets the carrier's amplitude (its fundamental
grows as sin(pi*D), so 50 % is the most). Calibration finds the lowest duty at which both
receivers of the slot see their beams and drives the slot at that duty times ``ir_margin``
(at most 50 %): the receivers then sit a known margin above their threshold, where a single
thin ticket blocks them. A slot whose operating duty (threshold x margin) exceeds ``ir_weak_duty``
is weak (hardware/ballot_optics.md: 40 %, 4.3 dB lost since the design point; dust, ageing,
misalignment): ``beam_weak``. A slot whose receivers do not see the beam at 50 %, or that see
light with their own emitters off (sun, crosstalk, a stuck receiver), or whose neighbours go
dark when its emitters are off (crossed wiring): ``beam_fault``.
"""

import time

from wire import BALLOT_SLOTS

_FULL = 32768  # 50 % duty: the largest 38 kHz fundamental
_STEP = 256  # search resolution (duty_u16)
_SETTLE_MS = 3  # TSSP4038 output after a change of burst level (its datasheet: < 1 ms)


def _dark(hal, i):
    """Slot i's receivers: 0 both see light, else 1 (at least one blocked)."""
    time.sleep_ms(_SETTLE_MS)  # type: ignore[attr-defined]
    return 1 if hal.input("beam", i).value() or hal.input("confirm", i).value() else 0


def calibrate(hal, i):
    """The lowest duty (to _STEP) at which slot i's receivers both see their beams, or None."""
    hal.ir_duty(i, _FULL)
    if _dark(hal, i):
        return None
    lo = 0
    hi = _FULL
    while hi - lo > _STEP:
        mid = (lo + hi) // 2
        hal.ir_duty(i, mid)
        if _dark(hal, i):
            lo = mid
        else:
            hi = mid
    return hi


def run(hal, conf, skip=()):
    """Calibrate every slot but those in ``skip`` (blocked: left at 50 %, untested), then
    self-test it. Returns (duties, alarms): alarms a list of (slot, "beam_fault" | "beam_weak")."""
    n = len(BALLOT_SLOTS)
    margin = conf.get("ir_margin", 2.5)
    weak = conf.get("ir_weak_duty", 26214)
    duty = []
    alarms = []
    for i in range(n):
        hal.ir_duty(i, _FULL)
    for i in range(n):
        if i in skip:
            duty.append(_FULL)
            continue
        d = calibrate(hal, i)
        if d is None:
            alarms.append((i, "beam_fault"))
            d = _FULL
        else:
            d = int(d * margin)
            if d > weak:
                alarms.append((i, "beam_weak"))
            d = min(_FULL, d)
        hal.ir_duty(i, d)
        duty.append(d)
    for i in range(n):  # one slot's emitters off: only its own receivers may go dark
        if i in skip:
            continue
        hal.ir_duty(i, 0)
        if not _dark(hal, i) and (i, "beam_fault") not in alarms:
            alarms.append((i, "beam_fault"))
        for j in range(n):
            if j != i and j not in skip and _dark(hal, j) and (j, "beam_fault") not in alarms:
                alarms.append((j, "beam_fault"))
        hal.ir_duty(i, duty[i])
    return duty, alarms


def recheck(app):
    """The idle re-check: calibrate again; alarms a slot had not raised at boot or before."""
    duty, alarms = run(app.hal, app.conf)
    app.duty = duty
    out = []
    for a in alarms:
        if a not in app.optics:
            app.optics.append(a)
            out.append(a)
    return out
