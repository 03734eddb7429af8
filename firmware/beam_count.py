"""Ballot-box counting: pure, no I/O. Sampled beam levels in, events out (docs/firmware.md).

Each slot has an entry beam near the mouth and a deeper confirm beam that fingers cannot reach.
A drop counts on the CONFIRM beam: blocked for at least ``min_ms`` and less than ``jam_ms``,
counted when it clears; a block that starts less than ``rearm_ms`` after the last counted one
cleared is the same ticket (a curled ticket fluttering). The entry beam blocked and cleared with
no confirm block from its start until _WAIT_MS after it cleared is a ticket (or a finger) dipped
in and pulled back: no count, ``withdrawn`` (at most one alarm per slot per _ALARM_GAP_MS).
Either beam blocked for ``jam_ms`` raises ``jam`` once; ``jam_cleared`` when both are clear. A
beam blocked at the first sample (boot) does not count when it clears.

The hardware counter (esp32.PCNT) counts confirm block edges in silicon; reconcile() compares
its total with the edges the sampler saw. Only while the sampler was blind for longer than
``min_ms`` (a flash stall) can a whole drop pass unseen, so a deficit is recovered as drops only
up to what such gaps could hold, and only when it persists over two reconciles (an edge between
the last sample and the counter read is seen by the next sample): never counted twice.
"""

# MicroPython's wrap-around-safe difference; plain subtraction on CPython (the simulator). No
# lambda: even one that never runs is a code object in device RAM.
try:
    from time import ticks_diff  # type: ignore[attr-defined]
except ImportError:
    from operator import sub as ticks_diff

try:
    from micropython import const
except ImportError:
    const = int

_WAIT_MS = const(500)  # a confirm block starting this soon after the entry cleared: a ticket
_ALARM_GAP_MS = const(60000)  # withdrawn alarms per slot at most this often (all are counted)


class Slot:
    """One slot: count (drops, recovered ones included), seen (confirm block edges sampled),
    withdrawn (dips counted, alarmed or not), recovered, jammed."""

    def __init__(self, slot, min_ms=20, jam_ms=8000, rearm_ms=80):
        self.slot = slot
        self.min_ms = min_ms
        self.jam_ms = jam_ms
        self.rearm_ms = rearm_ms
        self.count = 0
        self.seen = 0
        self.withdrawn = 0
        self.recovered = 0
        self.jammed = False
        self._last = None  # time of the previous sample (None: no sample yet)
        self._e = 0  # entry level at the last sample (1 blocked)
        self._c = 0
        self._e_at = 0  # when the entry / confirm beam went blocked
        self._c_at = 0
        self._boot = False  # the confirm block in progress began before the first sample
        self._done = None  # when the last counted drop's confirm block cleared
        self._reached = False  # the entry episode reached the confirm beam
        self._unsure = False  # the sampler was blind during the entry episode
        self._wait = None  # entry cleared without the confirm beam: withdrawn unless it blocks
        self._w_at = None  # the last withdrawn alarm
        self._budget = 0  # drops the sampler's blind gaps could have hidden
        self._off = None  # hardware count - seen at the first reconcile
        self._prev = 0  # the deficit at the last reconcile

    def sample(self, now, entry, confirm):
        """Levels at ``now`` (1 = blocked); a list of events ("drop", "jam", ...) or ()."""
        out = []
        last = self._last
        self._last = now
        if last is None:  # the first sample: adopt the levels, a blocked beam does not count
            self._e = entry
            self._c = confirm
            self._e_at = self._c_at = now
            self._boot = confirm == 1
            self._reached = True  # no withdrawn for an entry blocked at boot
            return ()
        blind = ticks_diff(now, last) > self.min_ms
        if blind:  # the sampler stalled: whole drops may have passed between the samples
            rm = self.rearm_ms
            self._budget += (ticks_diff(now, last) + rm) // (self.min_ms + rm)
            self._unsure = True
        if confirm != self._c:
            self._c = confirm
            if confirm:
                self.seen += 1
                self._c_at = now
                self._reached = True
                self._wait = None
            else:
                held = ticks_diff(now, self._c_at)
                if self._boot:
                    self._boot = False
                elif self.min_ms <= held < self.jam_ms:
                    d = self._done
                    if d is None or ticks_diff(self._c_at, d) >= self.rearm_ms:
                        self.count += 1
                        out.append("drop")
                    self._done = now  # a flutter of a counted ticket extends its re-arm gap
        if entry != self._e:
            self._e = entry
            if entry:
                self._e_at = now
                self._reached = confirm == 1
                self._unsure = blind
            else:
                held = ticks_diff(now, self._e_at)
                if not (self._reached or self._unsure) and self.min_ms <= held < self.jam_ms:
                    self._wait = now
        w = self._wait
        if w is not None and (self._unsure or ticks_diff(now, w) >= _WAIT_MS):
            self._wait = None
            if not self._unsure:  # blind meanwhile: the hardware counter decides
                self.withdrawn += 1
                if self._w_at is None or ticks_diff(now, self._w_at) >= _ALARM_GAP_MS:
                    self._w_at = now
                    out.append("withdrawn")
        jam = self.jam_ms
        if not self.jammed:
            if (confirm and ticks_diff(now, self._c_at) >= jam) or (
                entry and ticks_diff(now, self._e_at) >= jam
            ):
                self.jammed = True
                out.append("jam")
        elif not (entry or confirm):
            self.jammed = False
            out.append("jam_cleared")
        return out or ()

    def reconcile(self, hw):
        """``hw``: the hardware counter's total of confirm block edges. Returns the number of
        drops the sampler missed, already added to count (the caller emits them)."""
        if self._off is None:
            self._off = hw - self.seen
            return 0
        d = hw - self._off - self.seen
        n = min(d, self._prev, self._budget)
        if n > 0:
            self.seen += n
            self.count += n
            self.recovered += n
            self._budget -= n
            d -= n
        else:
            n = 0
        if d < 0 or (d > 0 and not self._budget):  # a counter reset, or glitches: not drops
            self._off += d
            d = 0
        if not d:
            self._budget = 0
        self._prev = d
        return n


class BoxFill:
    """Drops since the lid was last opened against ``capacity`` (0: no estimate)."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.drops = 0
        self.full = False

    def add(self, n):
        """``n`` more drops; True once, when the box reaches its capacity."""
        self.drops += n
        if self.capacity and not self.full and self.drops >= self.capacity:
            self.full = True
            return True
        return False
