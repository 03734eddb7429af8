"""ESP32 entry: read /config.json (written by `hallrate firmware build`), run the device."""

import asyncio
import json
import time

import machine


def main():
    with open("/config.json") as f:
        conf = json.load(f)
    pins = conf.get("pins")
    if pins is None:
        import pins as pin_maps

        pins = pin_maps.PINS[conf.get("board", "esp32s3")][conf["kind"]]
        del pin_maps
    import app
    from hal.esp32 import Esp32Hal

    asyncio.run(app.run(Esp32Hal(conf, pins), conf))


try:
    main()
except Exception as e:  # never sit in the REPL in a service hall: log, wait, restart
    print("fatal:", repr(e))
    time.sleep(5)
    machine.reset()
