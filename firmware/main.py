"""ESP32 entry: read /config.json (`hallrate firmware build` or `deploy` writes it), run the device.

Maintenance mode first, before anything starts the watchdog (docs/provisioning.md, "Maintenance
mode"): with the flag file /maint (a deploy writes it first and removes it last) neither the app
nor the watchdog starts and the REPL stays free; an evaluator whose first button is held for 3 s
at power-up does the same, with a 30-minute watchdog so a button leaned on cannot stop the device.

With "root" in the config (a deployed board: "/"), loader.py chooses the application slot and an
uncaught exception is recorded in boot.json and fatal.log before the reset (docs/firmware.md,
Updates).
"""

import asyncio
import json
import os
import sys
import time

import machine


def flagged():
    try:
        os.stat("maint")  # relative: the board's cwd is "/" (the unix-port test runs it in a dir)
        return True
    except OSError:
        return False


def held(conf, pins):
    """An evaluator's first button held for 3 s at power-up (config "maint_button", default
    true): maintenance with a 30-minute watchdog."""
    if conf["kind"] != "evaluator" or not conf.get("maint_button", True):
        return False
    b = machine.Pin(pins["buttons"][0], machine.Pin.IN, machine.Pin.PULL_UP)
    for _ in range(60):  # 3 s, sampled every 50 ms; released at any sample: a normal boot
        if b.value():
            return False
        time.sleep_ms(50)
    machine.WDT(timeout=1800000)  # nobody connects within 30 min: the device starts again
    return True


def main(conf):
    if "root" in conf:
        __import__("loader").start(conf)  # no name bound: it leaves RAM after the boot
    pins = conf.get("pins")
    if pins is None:
        import pins as pin_maps

        pins = pin_maps.PINS[conf.get("board", "esp32s3")][conf["kind"]]
        del pin_maps
    if held(conf, pins):
        print('{"ev": "maintenance", "why": "button"}')
        return
    import app
    from hal.esp32 import Esp32Hal

    asyncio.run(app.run(Esp32Hal(conf, pins), conf))


def boot():
    if flagged():  # before the config is even read: a deploy can repair a broken one
        print('{"ev": "maintenance", "why": "flag"}')
        return  # never sys.exit(): on a board that is a soft reset, and main.py again
    with open("config.json") as f:
        conf = json.load(f)
    try:
        main(conf)
    except Exception as e:  # never sit in the REPL in a service hall: log, wait, restart
        sys.print_exception(e)
        if conf.get("root"):
            try:
                import loader

                loader.fatal(conf["root"], repr(e))
            except Exception:
                pass
        time.sleep(5)
        machine.reset()


boot()
