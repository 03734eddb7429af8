"""Ballot-box slot logic: pure, no I/O. One IR light barrier per slot, edges in, events out.

A drop counts when the beam clears after being blocked for at least ``min_ms`` and less than
``jam_ms``. Blocked for ``jam_ms`` or longer is a jam: one "jam" alarm, no count, and the slot
stops counting until the beam clears ("jam_cleared"). The ticket that jammed is not counted:
a stuck ticket cannot be told from a hand or tape in the slot (docs/firmware.md).
"""

# MicroPython's wrap-around-safe difference; plain subtraction on CPython (the simulator). No
# lambda: even one that never runs is a code object in device RAM.
try:
    from time import ticks_diff  # type: ignore[attr-defined]
except ImportError:
    from operator import sub as ticks_diff


BLOCKED = 1  # receiver output with a pull-up: beam received pulls low, blocked reads high
# Event tuples built from lists: a constant tuple's strings load from .mpy as string objects on
# the heap, a list display's are interned names (see wire.LEVELS).
_CLEARED = tuple(["jam_cleared"])
_JAM_CLEARED = tuple(["jam", "jam_cleared"])
_DROP = tuple(["drop"])


class BeamSlot:
    def __init__(self, slot, min_ms=3, jam_ms=2000):
        self.slot = slot
        self.min_ms = min_ms
        self.jam_ms = jam_ms
        self.blocked = False
        self.jammed = False
        self.count = 0
        self._since = 0

    def edge(self, level, now):
        """Beam level changed at ``now``; returns a tuple of events ("drop", "jam", ...)."""
        blocked = level == BLOCKED
        if blocked == self.blocked:
            return ()
        self.blocked = blocked
        if blocked:
            self._since = now
            return ()
        held = ticks_diff(now, self._since)
        if self.jammed:
            self.jammed = False
            return _CLEARED
        if held >= self.jam_ms:
            return _JAM_CLEARED  # cleared before a tick saw the jam
        if held < self.min_ms:
            return ()  # a glitch, not a ticket
        self.count += 1
        return _DROP

    def tick(self, now):
        """Check for a jam while blocked; returns "jam" once, or None."""
        if self.blocked and not self.jammed and ticks_diff(now, self._since) >= self.jam_ms:
            self.jammed = True
            return "jam"
        return None


class TicketMemory:
    """The last ticket number a slot's reader saw, valid for ``window_ms`` for the next drop."""

    def __init__(self, window_ms=3000):
        self.window_ms = window_ms
        self.ticket = None
        self._at = 0

    def seen(self, ticket, now):
        self.ticket = ticket
        self._at = now

    def take(self, now):
        """The ticket for a drop at ``now`` (consumed), or None."""
        tk = self.ticket
        self.ticket = None
        if tk is None or ticks_diff(now, self._at) > self.window_ms:
            return None
        return tk


def clean_ticket(raw):
    """A reader line (bytes or str) -> ticket number or None. Keeps [A-Za-z0-9-], max 32."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = bytes(raw).decode()
        except Exception:
            return None
    out = ""
    for c in raw.strip():
        if ("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c == "-":
            out += c
    return out[:32] or None
