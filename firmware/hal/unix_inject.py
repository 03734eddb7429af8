"""The unix hal's fault injection (control lines kill, stall, blip; docs/firmware.md, Running it
on the unix port): imported at a test's first such line, never on a board."""

import time


def run(hal, app, p):
    cmd = p[0]
    if cmd == "blip":  # a press made and released inside a stall of the event loop
        pin = hal.input("button", app.button_index(p[1]))
        pin._v = 0
        time.sleep_ms(int(p[2]))
        pin._v = 1
        pin._handler(pin)  # the IRQ, late and once, sees the level as it is now
        hal.log({"r": "blip"})
        return
    # kill: the task's next check-in raises; stall: its check-ins are dropped from now on (a
    # task stuck in an await that never returns, as the supervisor sees it).
    dev = app.dev
    beat = dev.beat
    task = p[1]

    def hooked(t):
        if t != task:
            beat(t)
        elif cmd == "kill":
            raise RuntimeError("killed")

    dev.beat = hooked
    hal.log({"r": cmd, "task": task})
