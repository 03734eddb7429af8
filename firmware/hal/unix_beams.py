"""The unix hal's ballot-box optics and its test commands (loaded with the first beam pin, so an
evaluator never has this code in RAM).

Each slot has an entry and a confirm receiver (1 = blocked) and one emitter driver whose duty
(hal.ir_duty) the firmware sets. A receiver reads blocked when something is in its beam, or when
its slot's duty is below the slot's threshold: conf "ir_threshold" (a list, one duty_u16 per
slot, default 8000; 0 models a receiver that sees light with its emitters off, above 32768 a
dead emitter). With conf "pcnt": true, hal.beam_counts() is a simulated hardware counter of
confirm block edges (else None, as without one); "lost SLOT" adds an edge the sampler never sees.
"""

import asyncio

from hal.unix import SimPin

_THRESHOLD = 8000


class BeamPin(SimPin):
    """A receiver: blocked (1) by the test's drive() or by too little light."""

    def __init__(self, optics, slot, confirm, value):
        super().__init__(value)
        self.optics = optics
        self.slot = slot
        self.confirm = confirm

    def value(self):
        o = self.optics
        return 1 if self._v or o.duty[self.slot] < o.threshold[self.slot] else 0

    def drive(self, v):
        if v and not self._v and self.confirm:
            self.optics.counts[self.slot] += 1
        self._v = v


def pin(hal, role, slot, value):
    """A receiver pin for UnixHal.input; the first one gives the hal its optics, ir_duty and
    beam_counts."""
    o = hal.optics
    if o is None:
        o = hal.optics = Optics(hal.conf)
        hal.ir_duty = o.ir_duty
        hal.beam_counts = o.beam_counts
    return o.pin(role, slot, value)


class Optics:
    def __init__(self, conf):
        th = conf.get("ir_threshold") or [_THRESHOLD] * 3
        self.threshold = list(th)
        self.duty = [32768] * len(th)  # 50 % until the firmware calibrates
        self.counts = [0] * len(th)
        self.pcnt = conf.get("pcnt", False)

    def ir_duty(self, slot, duty):
        """hal.ir_duty: slot ``slot``'s emitter drive (38 kHz PWM duty, duty_u16)."""
        self.duty[slot] = duty

    def beam_counts(self):
        """hal.beam_counts: confirm block edges per slot from the counter; None without one."""
        return list(self.counts) if self.pcnt else None

    def pin(self, role, slot, value):
        p = BeamPin(self, slot, role == "confirm", 0)
        if value:
            p.drive(value)
            self.counts[slot] = 0  # blocked before the counter started: no edge
        return p

    def command(self, hal, p):
        """beam SLOT MS [TICKET] (a ticket passes: entry, then confirm), dip SLOT MS (entry
        only, pulled back), lost SLOT (a counter edge only), block SLOT 0|1 (both beams held)."""
        cmd = p[0]
        slot = int(p[1])
        if cmd == "lost":
            self.counts[slot] += 1
        elif cmd == "block":
            hal.input("beam", slot).drive(int(p[2]))
            hal.input("confirm", slot).drive(int(p[2]))
        else:
            if len(p) > 3:
                hal.reader(slot)._v.append(p[3].encode() + b"\r\n")
            asyncio.create_task(self._pass(hal, slot, int(p[2]), cmd == "beam"))  # noqa: RUF006

    async def _pass(self, hal, slot, ms, confirm):
        e = hal.input("beam", slot)
        c = hal.input("confirm", slot)
        lag = min(20, ms // 2)  # the confirm beam lies deeper: the ticket reaches it later
        e.drive(1)
        if confirm:
            await asyncio.sleep_ms(lag)
            c.drive(1)
            await asyncio.sleep_ms(ms - lag)
        else:
            await asyncio.sleep_ms(ms)
        e.drive(0)
        if confirm:
            await asyncio.sleep_ms(lag)
            c.drive(0)
