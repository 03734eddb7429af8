"""Unix-port hardware layer: simulated pins driven by a test over stdin, real sockets.

Control lines on stdin (one command each) are answered, where they ask something, with one
JSON line on stdout; the firmware's own events are JSON lines too. simulator/firmware_process.py
is the driver that hides this protocol from tests.
"""

import asyncio
import gc
import json
import sys
import time

_IDLE = {"button": 1, "beam": 0, "lid": 0}  # pull-up buttons; beam received; lid closed


class SimPin:
    """A Pin look-alike: value() and irq(handler); drive() is what the test does to it."""

    def __init__(self, name, value):
        self.name = name
        self._v = value
        self._handler = None

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0
        return None

    def irq(self, handler=None, trigger=None, hard=False):
        self._handler = handler

    def drive(self, v):
        v = 1 if v else 0
        if v != self._v:
            self._v = v
            if self._handler is not None:
                self._handler(self)


class SimReader:
    """A UART barcode/QR reader: the test feeds lines, the app awaits readline()."""

    def __init__(self):
        self._lines = []
        self._ev = asyncio.Event()

    def feed(self, line):
        self._lines.append(line)
        self._ev.set()

    async def readline(self):
        while not self._lines:
            self._ev.clear()
            await self._ev.wait()
        return self._lines.pop(0)


class UnixHal:
    platform = "unix"

    def __init__(self, conf):
        self.conf = conf
        self.pins = {}
        self.leds = {}
        self.readers = {}
        self.feeds = 0
        self._wifi = True
        self._drop_cbs = []
        self._tear = None
        self._app = None

    # ---- time, memory, log --------------------------------------------------------------------

    def clock_valid(self):
        return bool(self.conf.get("clock_valid", True))

    def clock_source(self):
        return "host"

    def ntp_sync(self):
        return self.clock_valid()

    def mem_free(self):
        return gc.mem_free()

    def log(self, obj):
        print(json.dumps(obj))

    def reset(self):
        sys.exit(0)

    # ---- pins, display ------------------------------------------------------------------------

    def input(self, role, index=0):
        key = role + str(index)
        if key not in self.pins:
            self.pins[key] = SimPin(key, _IDLE[role])
        return self.pins[key]

    def led(self, name, on):
        self.leds[name] = 1 if on else 0

    def show(self, screen, text):
        self.log({"ev": "display", "screen": screen, "text": text})

    def reader(self, slot):
        if not self.conf.get("readers", True):
            return None
        if slot not in self.readers:
            self.readers[slot] = SimReader()
        return self.readers[slot]

    def watchdog(self, timeout_ms):
        return self  # the hal counts the feeds; a stuck loop shows as a stalled count

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
        """Serve control lines from stdin until EOF."""
        self._app = app
        reader = asyncio.StreamReader(sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                return
            parts = line.decode().split()
            if not parts:
                continue
            if parts[0] == "quit":
                self.log({"r": "bye"})
                return
            try:
                self._command(parts)
            except Exception as e:
                self.log({"r": "error", "cmd": parts[0], "err": repr(e)})

    def _command(self, p):
        cmd = p[0]
        if cmd == "press":
            idx = self._app.button_index(p[1])
            hold = int(p[2]) if len(p) > 2 else 80
            bounce = len(p) > 3 and p[3] == "bounce"
            asyncio.create_task(self._pulse("button", idx, 0, hold, bounce))  # noqa: RUF006
        elif cmd == "beam":
            slot = int(p[1])
            if len(p) > 3:
                self.reader(slot).feed(p[3].encode() + b"\r\n")
            asyncio.create_task(self._pulse("beam", slot, 1, int(p[2]), False))  # noqa: RUF006
        elif cmd == "lid":
            self.input("lid").drive(int(p[1]))
        elif cmd == "wifi":
            self._wifi = p[1] == "1"
            if not self._wifi:
                for cb in self._drop_cbs:
                    cb()
            self.log({"r": "wifi", "up": self._wifi})
        elif cmd == "tear":
            self._tear = int(p[1])
            self.log({"r": "tear", "n": self._tear})
        elif cmd == "stat":
            if len(p) > 1 and p[1] == "gc":
                gc.collect()
            alloc = gc.mem_alloc()  # before this reply's own objects
            free = gc.mem_free()
            st = self._app.status()
            st["r"] = "stat"
            st["alloc"] = alloc
            st["free"] = free
            st["rom"] = self.conf.get("rom_bytes", 0)
            st["wdt_feeds"] = self.feeds
            st["leds"] = self.leds
            self.log(st)
        else:
            self.log({"r": "error", "cmd": cmd, "err": "unknown command"})

    async def _pulse(self, role, index, active, hold_ms, bounce):
        pin = self.input(role, index)
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
