"""The ballot box (投票箱) application: three light barriers, a lid switch, optional readers."""

import asyncio
from time import ticks_ms

import wire
from ballot_box import clean_ticket


class BallotApp:
    """Made by startup.ballot_app (start-up code is not kept in RAM): dev, hal, slots
    (BeamSlot per slot), tickets (TicketMemory per slot), _events (slot, event, ticks) from the
    beam IRQs drained by _drain, lid (DebouncedInputs of the lid switch), readers (per slot, or
    None). Tasks: _drain, _jam_watch, lid.sample and _read per reader."""

    def _beam_handler(self, i):
        slot = self.slots[i]

        def handler(pin):
            now = ticks_ms()
            for e in slot.edge(pin.value(), now):
                self._events.append((i, e, now))

        return handler

    def status(self):
        st = self.dev.status()
        st["counts"] = [s.count for s in self.slots]
        st["jammed"] = [s.jammed for s in self.slots]
        return st

    def button_index(self, arg):
        return int(arg)

    async def _drain(self):
        while True:
            await asyncio.sleep_ms(10)  # polled: no ThreadSafeFlag (asyncio.event is heap)
            self.dev.beat("inputs")
            if not self._events:
                continue
            while self._events:
                i, e, now = self._events.pop(0)
                if e == "drop":
                    self.dev.emit(wire.drop, i, self.tickets[i].take(now))
                else:
                    self.dev.emit(wire.alarm, e, i)
            self.dev.state = "jam" if any(s.jammed for s in self.slots) else "ok"

    async def _jam_watch(self):
        while True:
            now = ticks_ms()
            for s in self.slots:
                if s.tick(now) == "jam":
                    self._events.append((s.slot, "jam", now))
            await asyncio.sleep_ms(100)

    async def _read(self, i):
        r = self.readers[i]
        while True:
            tk = clean_ticket(await r.readline())
            if tk:
                self.tickets[i].seen(tk, ticks_ms())

    def _on_lid(self, _i, level):
        self.dev.emit(wire.alarm, "lid_open" if level else "lid_closed")
