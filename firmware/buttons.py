"""Debounced inputs: a pin IRQ records the raw edge, a time filter decides the stable level.

The IRQ handler only stores small ints into preallocated lists (no allocation, safe in a hard
IRQ) and sets a ThreadSafeFlag; a task polls the filter until every input has settled.
"""

import asyncio
from time import ticks_diff, ticks_ms


class PressFilter:
    """Pure time filter for n inputs. A level counts once it held for ``debounce_ms``."""

    def __init__(self, n, debounce_ms=30, active=0):
        idle = 1 - active
        self.active = active
        self.debounce_ms = debounce_ms
        self._raw = [idle] * n
        self._stable = [idle] * n
        self._changed = [0] * n

    def edge(self, i, raw, now):
        """Record a raw level seen at ``now`` (called from the IRQ handler)."""
        if raw != self._raw[i]:
            self._raw[i] = raw
            self._changed[i] = now

    def busy(self):
        """True while some input's raw level differs from its stable level."""
        for i in range(len(self._raw)):
            if self._raw[i] != self._stable[i]:
                return True
        return False

    def poll(self, now):
        """Settle inputs whose raw level held long enough; return [(index, new_level)]."""
        out = []
        for i in range(len(self._raw)):
            if self._raw[i] != self._stable[i] and ticks_diff(now, self._changed[i]) >= (
                self.debounce_ms
            ):
                self._stable[i] = self._raw[i]
                out.append((i, self._raw[i]))
        return out

    def stable(self, i):
        return self._stable[i]


class DebouncedInputs:
    """IRQ + filter over pins; calls ``on_change(index, level)`` from a task."""

    def __init__(self, pins, on_change, debounce_ms=30, active=0):
        self.pins = pins
        self.on_change = on_change
        self.filter = PressFilter(len(pins), debounce_ms, active)
        self._flag = asyncio.ThreadSafeFlag()
        for i in range(len(pins)):
            self.filter._raw[i] = self.filter._stable[i] = pins[i].value()
            pins[i].irq(self._make_handler(i))

    def _make_handler(self, i):
        filt = self.filter
        flag = self._flag

        def handler(pin):
            filt.edge(i, pin.value(), ticks_ms())
            flag.set()

        return handler

    async def run(self):
        step = max(2, self.filter.debounce_ms // 3)
        while True:
            await self._flag.wait()
            while self.filter.busy():
                await asyncio.sleep_ms(step)
                for i, level in self.filter.poll(ticks_ms()):
                    self.on_change(i, level)
