"""The evaluator (评价器) application: buttons -> state machine -> votes and screens."""

import asyncio
from time import ticks_ms

import wire
from buttons import DebouncedInputs
from evaluator import Evaluator


class EvaluatorApp:
    def __init__(self, dev, hal, conf):
        self.dev = dev
        levels = conf.get("levels") or wire.LEVELS
        self.ev = Evaluator(
            conf.get("timeout_s", 30) * 1000,
            conf.get("thanks_ms", 3000),
            conf.get("misuse_ms", 10000),
            levels,
        )
        n = conf.get("buttons", 5)
        pins = []
        for i in range(n):
            pins.append(hal.input("button", i))
        self.inputs = DebouncedInputs(pins, self._on_change, conf.get("debounce_ms", 30), 0)
        dev.on_cfg = self._on_cfg
        dev.on_req = self._on_req
        dev.state = self.ev.state
        self.presses = 0

    def tasks(self):
        return (self.inputs.run(), self._ticker())

    def status(self):
        st = self.dev.status()
        st["presses"] = self.presses
        st["levels"] = list(self.ev.levels)
        return st

    def button_index(self, arg):
        """A button by index ("0") or by the level it is mapped to ("satisfied")."""
        if arg in self.ev.levels:
            return list(self.ev.levels).index(arg)
        return int(arg)

    def _on_change(self, i, level):
        if level == 0:  # pressed (active low)
            self.presses += 1
            self._apply(self.ev.press(i, ticks_ms()))

    def _on_cfg(self, msg):
        actions = self.ev.configure(
            msg.get("levels"),
            msg.get("timeout"),
            bool(msg.get("paused")),
            msg.get("w"),
            ticks_ms(),
        )
        self._apply(actions or [("show", self.dev.screen)])  # staff may have changed

    def _on_req(self, msg):
        self._apply(self.ev.request(msg["rq"], msg["tk"], msg["w"], msg["ttl"], ticks_ms()))

    def _apply(self, actions):
        for a in actions:
            if a[0] == "vote":
                self.dev.emit(wire.vote, a[1], a[2], a[3], a[4], a[5])
            else:
                self.dev.show(a[1])
        self.dev.state = self.ev.state

    async def _ticker(self):
        while True:
            self._apply(self.ev.tick(ticks_ms()))
            await asyncio.sleep_ms(100)
