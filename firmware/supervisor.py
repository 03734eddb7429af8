"""The supervisor's failure path, loaded only when a task failed (docs/firmware.md, Supervisor):
the running part is Device.supervise and Device.crash (firmware/app.py)."""

import sys


def crash(dev, ctx):
    """An uncaught exception in a task (its coroutine's name first): logged to flash, then the
    device resets (hal.reset("crash"))."""
    name = repr(getattr(ctx.get("future"), "coro", "")).split("'")
    fatal(dev, "%s: %r" % (name[1] if len(name) > 2 else "task", ctx.get("exception")), "crash")
    dev.hal.reset("crash")


def fatal(dev, text, why):
    """Log ``text`` ({"ev": "fatal"}) and, on a device with a root, to boot.json's ft and
    fatal.log (loader.fatal), the next boot's reset cause being ``why``."""
    dev.hal.log({"ev": "fatal", "err": text})
    root = dev.conf.get("root")
    if root:
        try:
            __import__("loader").fatal(root, text, why)
        except Exception:  # a full or damaged filesystem: reset regardless
            pass
        sys.modules.pop("loader", None)
