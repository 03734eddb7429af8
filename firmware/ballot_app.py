"""The ballot box (投票箱) application: three light barriers, a lid switch, optional readers."""

import asyncio
from time import ticks_ms

import wire
from ballot_box import BeamSlot, TicketMemory, clean_ticket
from buttons import DebouncedInputs


class BallotApp:
    def __init__(self, dev, hal, conf):
        self.dev = dev
        self.hal = hal
        n = len(wire.BALLOT_SLOTS)
        self.slots = [
            BeamSlot(i, conf.get("beam_min_ms", 3), conf.get("jam_ms", 2000)) for i in range(n)
        ]
        self.tickets = [TicketMemory(conf.get("ticket_window_ms", 3000)) for _ in range(n)]
        self._events = []  # (slot, event, ticks) from the beam IRQs, drained by a task (polled)
        for i in range(n):
            hal.input("beam", i).irq(self._beam_handler(i))
        lid = hal.input("lid")
        self.lid = DebouncedInputs([lid], self._on_lid, conf.get("lid_debounce_ms", 50), 1)
        self.readers = [hal.reader(i) for i in range(n)]
        dev.state = "ok"

    def _beam_handler(self, i):
        slot = self.slots[i]

        def handler(pin):
            now = ticks_ms()
            for e in slot.edge(pin.value(), now):
                self._events.append((i, e, now))

        return handler

    def tasks(self):
        out = [self._drain(), self._jam_watch(), self.lid.run()]
        for i in range(len(self.readers)):
            if self.readers[i] is not None:
                out.append(self._read(i))
        return out

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
