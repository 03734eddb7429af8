"""The factory self-test (docs/provisioning.md, "Factory"): run through mpremote by `hallrate
firmware factory` while the board is in maintenance mode, never by the app (no heap in service).

It lights every LED, draws a test screen, then asks the technician for each input in turn (a JSON
line {"ev": "factory", "ask": "button0"}): press and release each button (evaluator), block and
clear each slot's entry beam and its confirm beam, open and close the lid (ballot box), each
within ``timeout_s``. Then it reads the Wi-Fi RSSI of the configured SSID (a scan on a board; the
hal's on the unix port) and prints one line {"ev": "factory_result", "ok", "fail": [...], "rssi",
"mp"}.
"""

import asyncio
import sys


class _Inputs:
    """What the unix hal's control channel asks of an app: press <n> is button n."""

    def button_index(self, name):
        return int(name)

    def status(self):
        return {}


def checks(conf):
    """(role, index, active level) of every input to exercise."""
    if conf["kind"] == "evaluator":
        return [("button", i, 0) for i in range(conf.get("buttons", 5))]
    out = []
    for i in range(3):  # each slot's entry beam, then its confirm beam
        out.append(("beam", i, 1))
        out.append(("confirm", i, 1))
    return out + [("lid", 0, 1)]


async def _cycle(pin, active, timeout_ms):
    """True when ``pin`` goes ``active`` and back within ``timeout_ms`` (sampled every 5 ms)."""
    t = 0
    for want in (active, 1 - active):
        while pin.value() != want:
            if t >= timeout_ms:
                return False
            await asyncio.sleep_ms(5)
            t += 5
    return True


def _rssi(hal, conf):
    try:
        import network

        w = network.WLAN(network.STA_IF)
        w.active(True)
        for n in w.scan():
            if n[0].decode() == conf.get("wifi_ssid"):
                return n[3]
        return None
    except ImportError:
        return hal.rssi()


async def run(hal, conf, timeout_s=30, control=False):
    """The self-test; returns (and prints) the result dict."""
    if control:  # the unix port: the test drives the inputs over stdin
        asyncio.create_task(hal.control(_Inputs()))  # noqa: RUF006
    for name in conf.get("leds", ("status",)):
        hal.led(name, True)
    fail = []
    try:
        hal.show("factory", "自检 self-test")
    except Exception:
        fail.append("display")
    for role, i, active in checks(conf):
        name = role + str(i)
        hal.log({"ev": "factory", "ask": name})
        if not await _cycle(hal.input(role, i), active, timeout_s * 1000):
            fail.append(name)
    rssi = _rssi(hal, conf)
    if rssi is None:
        fail.append("wifi")
    v = sys.implementation.version
    mp = "%d.%d.%d %s" % (v[0], v[1], v[2], getattr(sys.implementation, "_build", ""))
    res = {"ev": "factory_result", "ok": not fail, "fail": fail, "rssi": rssi, "mp": mp}
    hal.log(res)
    return res
