"""Unix-port hardware layer: simulated pins driven by a test over stdin, real sockets.

Control lines on stdin (one command each) are answered, where they ask something, with one
JSON line on stdout; the firmware's own events are JSON lines too. simulator/firmware_process.py
is the driver that hides this protocol from tests. This module is heap on the unix port, like
the ESP32 hal on a board: few code objects (docs/benchmarks.md, Firmware).
"""

import asyncio
import gc
import json
import sys
import time

_IDLE = {"button": 1, "lid": 0}  # pull-up buttons; lid closed (beams: hal/unix_beams.py)


class SimPin:
    """A Pin look-alike: value() and irq(handler); drive() is what the test does to it.
    A reader's pin (UnixHal.reader) also holds the lines a UART barcode/QR reader would send."""

    def __init__(self, value):
        self._v = value
        self._handler = None

    def value(self):
        return self._v

    def irq(self, handler, *_):
        self._handler = handler

    def drive(self, v):
        if v != self._v:
            self._v = v
            if self._handler is not None:
                self._handler(self)

    async def readline(self):
        while not self._v:
            await asyncio.sleep_ms(20)  # polled: no asyncio.Event (its module is heap)
        return self._v.pop(0)


class UnixHal:
    def __init__(self, conf):
        self.conf = conf
        self.pins = {}
        self.leds = {}
        self.feeds = 0
        self._wifi = True
        self._drop_cbs = []
        self._tear = None
        self.optics = None  # hal/unix_beams.Optics (and ir_duty, beam_counts): beam pins made

    # ---- time, log ----------------------------------------------------------------------------

    def clock(self):
        """The wall clock's source when it is valid, else None (config "clock_valid": false)."""
        return "host" if self.conf.get("clock_valid", True) else None

    def log(self, obj):
        print(json.dumps(obj))

    def reset(self, why=""):
        """Exit code 3, the unix port's reset (loader.reset)."""
        import loader

        loader.reset(self.conf.get("root"), why, self.log)

    # ---- health (hb fields) -------------------------------------------------------------------

    def reset_cause(self):
        """Why the chip last reset; a unix process start is a power-on."""
        return "power_on"

    def largest_free(self):
        """The largest free heap block: the unix port cannot tell."""
        return None

    def uid(self):
        """The machine's unique id in hex: /etc/machine-id (None when there is none)."""
        try:
            with open("/etc/machine-id") as f:
                return f.read().strip() or None
        except OSError:
            return None

    # ---- pins, display ------------------------------------------------------------------------

    def input(self, role, index=0):
        key = role + str(index)
        if key not in self.pins:
            # "inputs_at_boot": {"button2": 0, ...} starts a pin at another level (self-test)
            v = self.conf.get("inputs_at_boot", {}).get(key, _IDLE.get(role, 0))
            if role == "beam" or role == "confirm":  # the ballot box's: its own module
                self.pins[key] = __import__("hal.unix_beams").unix_beams.pin(self, role, index, v)
            else:
                self.pins[key] = SimPin(v)
        return self.pins[key]

    def led(self, name, on):
        self.leds[name] = on

    def show(self, screen, text):
        self.log({"ev": "display", "screen": screen, "text": text})

    def panel(self):
        """The simulated ST7789 (firmware/display_sim.py): a framebuffer written to the PNG
        at conf "screen_png" (none: not written) on every screen change."""
        from display_sim import SimPanel

        return SimPanel(self.conf.get("screen_png"), self.log)

    def beep(self, ms):
        self.log({"ev": "beep", "ms": ms})

    def reader(self, slot):
        """Slot ``slot``'s reader: a SimPin whose value is its list of fed lines."""
        if not self.conf.get("readers", False):
            return None
        r = self.input("reader", slot)
        if not isinstance(r._v, list):
            r._v = []
        return r

    def watchdog(self, timeout_ms):
        """The unix port has no watchdog: the hal counts the feeds ("stat" wdt_feeds; a stuck
        loop shows as a stalled count), and the supervisor's own backstop resets a device that
        stopped feeding (docs/firmware.md, Supervisor). No task of its own: a board's
        machine.WDT costs no heap either."""
        return self

    def feed(self):
        self.feeds += 1

    # ---- network ------------------------------------------------------------------------------

    async def wifi_connect(self):
        return self._wifi

    def wifi_up(self):
        return self._wifi

    def rssi(self):
        return -55 if self._wifi else None

    def on_wifi_down(self, cb):
        self._drop_cbs.append(cb)

    async def open_connection(self, host, port):
        if not self._wifi:
            raise OSError("wifi down")
        if self.conf.get("broker_tls"):  # firmware/link_tls.py, loaded only for TLS
            return await __import__("link_tls").connect(self, host, port)
        return await asyncio.open_connection(host, port)

    # ---- flash --------------------------------------------------------------------------------

    def outbox_write(self, f, data):
        """Every outbox record goes through here; ``tear`` simulates power loss mid-write."""
        if self._tear is None:
            f.write(data)
            return
        n = min(self._tear, len(data) - 1)
        f.write(data[:n])
        f.flush()
        self.log({"ev": "torn", "wrote": n, "of": len(data)})
        while True:  # frozen "without power" until the test kills the process
            time.sleep(1)

    # ---- the test's side ----------------------------------------------------------------------

    async def control(self, app):
        """Serve control lines from stdin until EOF or "quit". "stat" is answered here; every
        other line by hal/unix_control.py, imported for that line and dropped after: the test
        channel is no device heap (a board has none), so "stat" measures the firmware's own."""
        reader = asyncio.StreamReader(sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                return
            p = line.decode().split()
            if not p:
                continue
            cmd = p[0]
            if cmd == "quit":
                self.log({"r": "bye"})
                return
            try:
                if cmd == "stat":
                    if len(p) > 1 and p[1] == "gc":
                        gc.collect()
                    alloc = gc.mem_alloc()  # before this reply's own objects
                    free = gc.mem_free()
                    st = __import__("hal.unix_control").unix_control.status(app)
                    st["r"] = "stat"
                    st["alloc"] = alloc
                    st["free"] = free
                    st["rom"] = self.conf.get("rom_bytes", 0)
                    st["wdt_feeds"] = self.feeds
                    st["leds"] = self.leds
                    self.log(st)
                else:
                    __import__("hal.unix_control").unix_control.run(self, app, p)
            except Exception as e:
                self.log({"r": "error", "cmd": cmd, "err": repr(e)})
            finally:
                if "hal.unix_control" in sys.modules:
                    del sys.modules["hal.unix_control"]
                    del sys.modules["hal"].unix_control

    async def pulse(self, pin, active, hold_ms, bounce):
        if bounce:  # contact bounce: a few short flips before the level settles
            for _ in range(3):
                pin.drive(active)
                await asyncio.sleep_ms(1)
                pin.drive(1 - active)
                await asyncio.sleep_ms(1)
        pin.drive(active)
        await asyncio.sleep_ms(hold_ms)
        pin.drive(1 - active)
        if bounce:
            for _ in range(2):
                await asyncio.sleep_ms(1)
                pin.drive(active)
                await asyncio.sleep_ms(1)
                pin.drive(1 - active)
