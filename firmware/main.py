"""ESP32 entry: read /config.json (`hallrate firmware build` or `deploy` writes it), run the device.

With "root" in the config (a deployed board: "/"), loader.py chooses the application slot and an
uncaught exception is recorded in boot.json and fatal.log before the reset (docs/firmware.md,
Updates).
"""

import asyncio
import json
import sys
import time

import machine


def main(conf):
    if "root" in conf:
        __import__("loader").start(conf)  # no name bound: it leaves RAM after the boot
    pins = conf.get("pins")
    if pins is None:
        import pins as pin_maps

        pins = pin_maps.PINS[conf.get("board", "esp32s3")][conf["kind"]]
        del pin_maps
    import app
    from hal.esp32 import Esp32Hal

    asyncio.run(app.run(Esp32Hal(conf, pins), conf))


with open("/config.json") as f:
    _conf = json.load(f)
try:
    main(_conf)
except Exception as e:  # never sit in the REPL in a service hall: log, wait, restart
    sys.print_exception(e)
    if _conf.get("root"):
        try:
            import loader

            loader.fatal(_conf["root"], repr(e))
        except Exception:
            pass
    time.sleep(5)
    machine.reset()
