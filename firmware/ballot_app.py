"""The ballot box (投票箱) application: two beams per slot, a lid switch, optional readers."""

import asyncio
import sys
from time import ticks_diff, ticks_ms

import wire
from ballot_box import clean_ticket


class BallotApp:
    """Made by startup.ballot_app (start-up code is not kept in RAM): dev, hal, conf, slots
    (beam_count.Slot per slot), entry and confirm (their pins), tickets (TicketMemory per slot),
    readers (per slot, or None), fill (beam_count.BoxFill), lid_pin, lid (its debounced level),
    _lid_raw, _lid_at, lid_ms, duty (each slot's IR duty), optics ((slot, alarm) raised by
    beam_setup), fault (a beam_fault: the jam LED stays lit), check_ms and _checked (the idle
    optics re-check), _blink (the last drop: the status LED blinks off).
    Tasks: _sample (5 ms level sampling, the lid, the hardware-counter reconcile) and _read per
    reader (docs/firmware.md, Ballot box)."""

    def _event(self, i, e, now):
        dev = self.dev
        if e == "drop":
            dev.emit(wire.drop, i, self.tickets[i].take(now))
            if self.fill.add(1):
                dev.emit(wire.alarm, "box_full")
            self._blink = now
        else:
            dev.emit(wire.alarm, e, i)
            jam = False
            for s in self.slots:
                jam = jam or s.jammed
            dev.state = "jam" if jam else "ok"
            self.hal.led("jam", jam or self.fault)

    async def _sample(self):
        """Every 5 ms: each slot's two beams and the lid, by level (no IRQs: a level cannot be
        lost in a flash stall or an IRQ errata); the hardware counter every second."""
        hal = self.hal
        dev = self.dev
        slots = self.slots
        n = len(slots)
        rec = idle = ticks_ms()
        while True:
            now = ticks_ms()
            busy = False
            for i in range(n):
                e = self.entry[i].value()
                c = self.confirm[i].value()
                busy = busy or e or c
                for ev in slots[i].sample(now, e, c):
                    self._event(i, ev, now)
            if busy:
                idle = now
            v = self.lid_pin.value()
            if v != self._lid_raw:
                self._lid_raw = v
                self._lid_at = now
            elif v != self.lid and ticks_diff(now, self._lid_at) >= self.lid_ms:
                self.lid = v
                if v:  # opened: emptied, or about to be
                    self.fill.drops = 0
                    self.fill.full = False
                dev.emit(wire.alarm, "lid_open" if v else "lid_closed")
            if ticks_diff(now, rec) >= 1000:
                rec = now
                hw = hal.beam_counts()
                for i in range(n if hw is not None else 0):
                    k = slots[i].reconcile(hw[i])
                    for _ in range(k):
                        self._event(i, "drop", now)
                    if k:
                        dev.emit(wire.alarm, "drops_recovered", i)
                c = self.check_ms
                if c and ticks_diff(now, idle) >= 10000 and ticks_diff(now, self._checked) >= c:
                    self._recheck(now)
            hal.led("status", dev.link.up and ticks_diff(now, self._blink) >= 150)
            dev.beat("inputs")
            await asyncio.sleep_ms(5)

    def _recheck(self, now):
        """The idle optics re-check (beam_setup, loaded for it and dropped after): a slot's duty
        recalibrated, beam_weak/beam_fault raised on a change; the counter re-baselined."""
        self._checked = now
        import beam_setup

        for i, a in beam_setup.recheck(self):
            self.dev.emit(wire.alarm, a, i)
            if a == "beam_fault":
                self.fault = True
                self.hal.led("jam", True)
        del beam_setup
        sys.modules.pop("beam_setup")
        for s in self.slots:
            s._off = None  # the duty sweep made counter edges that were not drops
            s._budget = 0
            s._last = None

    async def _read(self, i):
        r = self.readers[i]
        while True:
            tk = clean_ticket(await r.readline())
            if tk:
                self.tickets[i].seen(tk, ticks_ms())
