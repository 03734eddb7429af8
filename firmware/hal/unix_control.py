"""The unix hal's test channel (docs/firmware.md, Running it on the unix port): every control
line but "stat" and "quit". hal/unix.py imports this module for one line and drops it after, so
the test channel's code is never counted as device heap; never on a board."""

import asyncio
import sys
import time


def run(hal, app, p):
    cmd = p[0]
    if cmd == "press":
        hold = int(p[2]) if len(p) > 2 else 80
        bounce = len(p) > 3 and p[3] == "bounce"
        # The pulse is the hal's: a task of this module's would keep its code in RAM meanwhile.
        pulse = hal.pulse(hal.input("button", _button(app, p[1])), 0, hold, bounce)
        asyncio.create_task(pulse)  # noqa: RUF006
    elif hal.optics is not None and cmd in ("beam", "dip", "lost", "block"):
        hal.optics.command(hal, p)
    elif cmd == "lid":
        hal.input("lid").drive(int(p[1]))
    elif cmd == "wifi":
        hal._wifi = p[1] == "1"
        if not hal._wifi:
            for cb in hal._drop_cbs:
                cb()
        hal.log({"r": "wifi", "up": hal._wifi})
    elif cmd == "tear":
        hal._tear = int(p[1])
        hal.log({"r": "tear", "n": hal._tear})
    elif cmd == "blip":  # a press made and released inside a stall of the event loop
        pin = hal.input("button", _button(app, p[1]))
        pin._v = 0
        time.sleep_ms(int(p[2]))
        pin._v = 1
        pin._handler(pin)  # the IRQ, late and once, sees the level as it is now
        hal.log({"r": "blip"})
    elif cmd == "kill" or cmd == "stall":
        _hook(hal, app.dev, cmd, p[1])
    else:
        raise ValueError(cmd)  # unknown command (the reply names it: "cmd")


def _hook(hal, dev, cmd, task):
    """kill: the task's next check-in raises; stall: its check-ins are dropped from now on (a
    task stuck in an await that never returns, as the supervisor sees it)."""
    beat = dev.beat

    def hooked(t):
        if t != task:
            beat(t)
        elif cmd == "kill":
            raise RuntimeError("killed")

    dev.beat = hooked
    hal.log({"r": cmd, "task": task})


def _button(app, arg):
    """A button by index ("0") or, on an evaluator, by the level it is mapped to ("satisfied")."""
    ev = getattr(app, "ev", None)
    if ev is not None and arg in ev.levels:
        return list(ev.levels).index(arg)
    return int(arg)


def status(app):
    """The "stat" reply's device fields (docs/firmware.md, Running it on the unix port)."""
    dev = app.dev
    st = {
        "device": dev.id,
        "boot": dev.boot,
        "seq": dev.seq,
        "depth": dev.outbox.depth(),
        "ovf": dev.outbox.overflow,
        "link": dev.link.up,
        "connects": dev.link.connects,
        "state": dev.state,
        "screen": dev.screen,
        "cfg_rev": dev.cfg["rev"] if dev.cfg else None,
        "t": dev.now(),
        "modules": sorted(sys.modules),  # what is heap besides the firmware's objects
    }
    if dev.kind == "ballot_box":
        st["counts"] = [s.count for s in app.slots]
        st["jammed"] = [s.jammed for s in app.slots]
        st["withdrawn"] = [s.withdrawn for s in app.slots]
        st["recovered"] = [s.recovered for s in app.slots]
        st["fill"] = app.fill.drops
        st["duty"] = app.duty
    else:
        st["presses"] = app.presses
        st["levels"] = list(app.ev.levels)
    return st
