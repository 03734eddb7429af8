"""The evaluator (评价器) application: buttons -> state machine -> votes and screens."""

import asyncio
from time import ticks_ms

import wire


class EvaluatorApp:
    """Made by startup.build (start-up code is not kept in RAM): dev, ev (the Evaluator),
    inputs (DebouncedInputs of the buttons, calling _on_change), presses (a count). Tasks:
    inputs.sample and _ticker."""

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
        # Feedback first: the citizen sees 谢谢 before the vote is written to flash (the flash
        # write is the slow part); the vote is still on flash before it is sent (the sender
        # sends only what the outbox holds).
        for a in actions:
            if a[0] == "show":
                self.dev.show(a[1])
        for a in actions:
            if a[0] == "vote":
                self.dev.emit(wire.vote, a[1], a[2], a[3], a[4], a[5])
        self.dev.state = self.ev.state

    async def _ticker(self):
        while True:
            self.dev.beat("ticker")
            self._apply(self.ev.tick(ticks_ms()))
            await asyncio.sleep_ms(100)
