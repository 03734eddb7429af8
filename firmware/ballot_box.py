"""Ballot-box tickets: pure, no I/O. A reader's line cleaned to a ticket number, and the
last one a slot's reader saw, for the slot's next drop (the counting is beam_count.py)."""

# MicroPython's wrap-around-safe difference; plain subtraction on CPython (the simulator). No
# lambda: even one that never runs is a code object in device RAM.
try:
    from time import ticks_diff  # type: ignore[attr-defined]
except ImportError:
    from operator import sub as ticks_diff


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
