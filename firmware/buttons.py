"""Debounced inputs: a task samples the pin levels every few ms into a time filter that decides
the stable level; the pin IRQ is only a hint (a press made and released inside a loop stall).

The IRQ handler only stores a small int into a preallocated bytearray (no allocation, safe in a
hard IRQ); no ThreadSafeFlag: asyncio's event module would be device heap of its own
(docs/benchmarks.md, Firmware).
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
    """Level sampling + filter over pins; calls ``on_change(index, level)`` from a task. Made
    by startup.inputs (start-up code is not kept in RAM): dev (its beat), name (the task's
    check-in name), pins, on_change, filter (PressFilter), hints (bytearray: a pin's IRQ fired
    since the last sample)."""

    def _irq(self, pin):
        # Only a hint (no allocation): the task samples the levels itself, so a lost, coalesced
        # or late edge cannot lose a level (docs/firmware.md, Evaluator).
        self.hints[self.pins.index(pin)] = 1

    async def sample(self):
        f = self.filter
        pins = self.pins
        hints = self.hints
        idle = 1 - f.active
        step = max(2, f.debounce_ms // 3)
        last = ticks_ms()
        while True:
            await asyncio.sleep_ms(step)
            self.dev.beat(self.name)
            now = ticks_ms()
            late = ticks_diff(now, last) >= f.debounce_ms  # the loop stalled (a flash write)
            last = now
            for i in range(len(pins)):
                v = pins[i].value()
                if hints[i] and late and v == idle and f._raw[i] == idle == f.stable(i):
                    # An edge came, yet the level is where it was: a press made and released
                    # inside the stall, counted as a short press.
                    self.on_change(i, f.active)
                    self.on_change(i, idle)
                hints[i] = 0
                f.edge(i, v, now)
            for i, level in f.poll(now):
                self.on_change(i, level)
