"""The evaluator (评价器) state machine: pure, no I/O, times passed in as ticks in ms.

idle -> requested (ticket T at window W) -> thanks -> idle, with a request timeout; paused (离岗)
from config. The first press for a request counts; later presses for it are sent flagged
"misuse"; a press with no open request is sent flagged "no_request". Outputs are actions:
("vote", level, rq, tk, w, flags) and ("show", screen). Screens never name the pressed level.
"""

# MicroPython's wrap-around-safe difference; plain subtraction on CPython (the simulator). No
# lambda: even one that never runs is a code object in device RAM.
try:
    from time import ticks_diff  # type: ignore[attr-defined]
except ImportError:
    from operator import sub as ticks_diff


IDLE = "idle"
REQUESTED = "requested"
THANKS = "thanks"
PAUSED = "paused"

# Screen keys (texts in app.py). "ask" = 请评价, "thanks" = 谢谢您的评价, "paused" = 暂停服务.
SCREEN = {IDLE: "idle", REQUESTED: "ask", THANKS: "thanks", PAUSED: "paused"}

try:  # the wire contract's levels (already loaded on the device: no second copy in RAM)
    from wire import LEVELS as DEFAULT_LEVELS
except ImportError:  # CPython, imported as firmware.evaluator
    from firmware.wire import LEVELS as DEFAULT_LEVELS


class Evaluator:
    def __init__(self, timeout_ms=30000, thanks_ms=3000, misuse_ms=10000, levels=DEFAULT_LEVELS):
        self.state = IDLE
        self.timeout_ms = timeout_ms
        self.thanks_ms = thanks_ms
        self.misuse_ms = misuse_ms  # presses this soon after a counted one are misuse
        self.levels = tuple(levels)
        self.paused = False
        self.window = None
        self.rq = None  # the open (or last answered) request: (rq, tk, w)
        self._since = 0  # when the current state began
        self._deadline_ms = 0
        self._answered = False

    # ---- inputs -------------------------------------------------------------------------------

    def configure(self, levels=None, timeout_s=None, paused=None, window=None, now=0):
        if levels:
            self.levels = tuple(levels)
        if timeout_s:
            self.timeout_ms = timeout_s * 1000
        if window is not None:
            self.window = window
        out = []
        if paused is not None and paused != self.paused:
            self.paused = paused
            out.append(self._enter(PAUSED if paused else IDLE, now))
            if paused:
                self.rq = None
        return out

    def request(self, rq, tk, w, ttl_s, now):
        """A rating request from the gateway (staff pressed 请评价 or the queue finished)."""
        if self.paused:
            return []
        self.rq = (rq, tk, w)
        self._answered = False
        self._deadline_ms = (ttl_s * 1000) if ttl_s else self.timeout_ms
        return [self._enter(REQUESTED, now)]

    def press(self, button, now):
        """A debounced press of button index ``button``; returns actions."""
        if button < 0 or button >= len(self.levels):
            return []
        level = self.levels[button]
        if self.paused:
            return [("vote", level, None, None, self.window, ("paused", "no_request"))]
        req = self.rq
        if req is not None and self.state == REQUESTED and not self._answered:
            self._answered = True
            return [("vote", level, req[0], req[1], req[2], ()), self._enter(THANKS, now)]
        if req is not None and self._answered:
            return [("vote", level, req[0], req[1], req[2], ("misuse",))]
        return [("vote", level, None, None, self.window, ("no_request",))]

    def tick(self, now):
        """Advance timers; returns actions (screen changes)."""
        age = ticks_diff(now, self._since)
        if self.state == REQUESTED and age >= self._deadline_ms:
            self.rq = None
            return [self._enter(IDLE, now)]
        if self.state == THANKS and age >= self.thanks_ms:
            return [self._enter(IDLE, now)]
        if self.state == IDLE and self.rq is not None and age >= self.misuse_ms:
            self.rq = None  # later presses are no longer tied to that request
        return []

    def _enter(self, state, now):
        self.state = state
        self._since = now
        return ("show", SCREEN[state])
