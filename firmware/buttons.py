"""Debounced inputs: a pin IRQ records the raw edge, a time filter decides the stable level.

The IRQ handler only stores small ints into preallocated lists (no allocation, safe in a hard
IRQ); a task polls the filter every few ms (no ThreadSafeFlag: asyncio's event module would be
device heap of its own, docs/benchmarks.md, Firmware).
"""

import asyncio
from array import array
from time import ticks_diff, ticks_ms


class PressFilter:
    """Pure time filter for n inputs. A level counts once it held for ``debounce_ms``."""

    def __init__(self, n, debounce_ms=30, active=0):
        idle = 1 - active
        self.active = active
        self.debounce_ms = debounce_ms
        # Preallocated and written in place from the IRQ handler: no allocation there.
        self._raw = bytearray([idle] * n)
        self._stable = bytearray([idle] * n)
        self._changed = array("i", [0] * n)  # ticks_ms() stays below 2**30
        self._held = bytearray(n)  # a level that held long enough but was not polled: level + 1

    def edge(self, i, raw, now):
        """Record a raw level seen at ``now`` (called from the IRQ handler: no allocation)."""
        if raw != self._raw[i]:
            if self._raw[i] != self._stable[i] and ticks_diff(now, self._changed[i]) >= (
                self.debounce_ms
            ):
                # The previous level held long enough, even if no poll saw it (a busy loop):
                # it counts, judged by the edge times, not by when the task ran.
                self._stable[i] = self._raw[i]
                self._held[i] = self._raw[i] + 1
            self._raw[i] = raw
            self._changed[i] = now

    def busy(self):
        """True while some input has an unreported or unsettled level."""
        for i in range(len(self._raw)):
            if self._raw[i] != self._stable[i] or self._held[i]:
                return True
        return False

    def poll(self, now):
        """Settle inputs whose raw level held long enough; return [(index, new_level)]."""
        out = []
        for i in range(len(self._raw)):
            if self._held[i]:
                out.append((i, self._held[i] - 1))
                self._held[i] = 0
            if self._raw[i] != self._stable[i] and ticks_diff(now, self._changed[i]) >= (
                self.debounce_ms
            ):
                self._stable[i] = self._raw[i]
                out.append((i, self._raw[i]))
        return out

    def stable(self, i):
        return self._stable[i]


class DebouncedInputs:
    """IRQ + filter over pins; calls ``on_change(index, level)`` from a task. Made by
    startup.inputs (start-up code is not kept in RAM): pins, on_change, filter (PressFilter)."""

    def _irq(self, pin):
        # One bound handler for all pins (Pin objects are singletons per GPIO on the ESP32).
        self.filter.edge(self.pins.index(pin), pin.value(), ticks_ms())

    async def run(self):
        step = max(2, self.filter.debounce_ms // 3)
        while True:
            await asyncio.sleep_ms(step)
            if self.filter.busy():
                for i, level in self.filter.poll(ticks_ms()):
                    self.on_change(i, level)
