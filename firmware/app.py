"""The device core: a handful of asyncio tasks around the outbox, the MQTT link and the hal.

Tasks: link (connect/reconnect), sender (outbox -> broker, resend until the end-to-end ack),
heartbeat (and the clock's SNTP sync), the supervisor (feeds the watchdog while every critical
task checks in; logs an uncaught exception to flash and resets), plus the device kind's own
(evaluator_app / ballot_app). The device also owns the wall clock's validity and the screens
(what the citizen sees, never the pressed level). Every code object is device heap
(docs/benchmarks.md, Firmware).
"""

import asyncio
import gc
import sys
import time
from time import ticks_diff, ticks_ms

import wire

FW_VERSION = "0.1.0"
# The downlinks, a list display: interned, see wire.LEVELS. ota/blk: firmware/ota.py; scr: the
# screens' bitmaps (firmware/display.py).
_DOWN = tuple(["cfg", "req", "ack", "resend", "ota", "blk", "scr"])
# Ports with a 2000 epoch (older ESP32 builds) need the 1970 offset added.
_EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0
_VALID_AFTER = 1704067200  # 2024-01-01: an RTC before this has not been set
# Screen texts, "|"-separated in the order of _SCREENS; screen keys come from evaluator.py.
_SCREENS = tuple(["idle", "ask", "thanks", "paused"])
_TEXTS = {
    "zh": "|请评价|谢谢您的评价|暂停服务",
    "en": "|Please rate our service|Thank you for your rating|Service paused",
}


class Device:
    """The device's state: hal, conf, id, hall, kind, boot (a new random id every boot), seq,
    the clock (source, _gw_delta), lang, screen, staff, outbox, link (MqttLink), hb_s,
    resend_ms, cfg, cfg_path, the app's hooks on_cfg/on_req, state (for the heartbeat) and the
    sender's bookkeeping. startup.build() sets it all up (start-up code is not kept in RAM)."""

    # display.Display of an evaluator with a display (startup.evaluator_app sets it on the
    # instance); a class attribute, so a device without one has no extra slot in its dict.
    display = None

    # ---- helpers ------------------------------------------------------------------------------

    def topic(self, channel):
        return wire.device_topic(self.hall, self.id, channel)

    def uptime(self):
        """Milliseconds since boot; accumulated so the ticks wrap-around does not matter."""
        now = ticks_ms()
        self._up_ms += ticks_diff(now, self._up_last)
        self._up_last = now
        return self._up_ms

    def now(self):
        """Epoch seconds, or None when the clock is not valid (events then carry t=null)."""
        t = int(time.time()) + _EPOCH_OFFSET
        if self._gw_delta is not None:
            return t + self._gw_delta
        src = self.hal.clock()
        if src is not None and _VALID_AFTER <= t < 4102444800:  # and before 2100 (wire bound)
            if self.source is None:
                self.source = src
            return t
        return None

    def _gw_time(self, t):
        """Take the gateway's time when the device has no valid clock of its own."""
        if t is not None and t >= _VALID_AFTER and self.hal.clock() is None:
            self._gw_delta = t - int(time.time()) - _EPOCH_OFFSET
            self.source = "gateway"

    def beat(self, task):
        """A critical task checks in ("link", "inputs", "sender", ...): the supervisor feeds the
        watchdog only while every critical task has checked in recently (docs/firmware.md)."""
        self.beats[task] = ticks_ms()

    def show(self, screen):
        """The display (first: what the citizen sees), LEDs, the buzzer and the hal's text hook
        for a screen key; never names the pressed level (docs/firmware.md, Display)."""
        if self.display is not None:
            self.display.show(screen)
        if screen != self.screen and screen in ("ask", "thanks") and self.conf.get("buzzer"):
            self.hal.beep(self.conf["buzzer"])
        self.screen = screen
        ask = 1 if screen == "ask" else 0
        self.hal.led("ask", ask)
        self.hal.led("thanks", 1 if screen == "thanks" else 0)
        # Staff side: lit while a rating is pending; off after it, whatever the level was.
        self.hal.led("staff", ask)
        st = self.staff
        if screen == "idle" and st:
            text = "%s %s" % (st.get("id", ""), st.get("name", ""))
        elif screen in _SCREENS:
            text = _TEXTS[self.lang].split("|")[_SCREENS.index(screen)]
        else:
            text = ""
        self.hal.show(screen, text)

    # ---- events -------------------------------------------------------------------------------

    def emit(self, make, what, *rest):
        """Queue a sequenced event ``make(device, boot, seq, what, t, up, *rest)`` (wire.vote..)."""
        if self.seq >= wire.MAX_SEQ:  # a new boot id, never drawn at boot, and seq from 1
            self.boot += "."
            self.seq = 0
        self.seq += 1
        seq = self.seq
        msg = make(self.id, self.boot, seq, what, self.now(), self.uptime(), *rest)
        ob = self.outbox
        evicted = ob.append(wire.encode(msg), self.boot, seq)
        self.hal.log({"ev": "queued", "k": msg["k"], "s": seq, "depth": ob.depth()})
        self._kick = True
        if evicted and not self._overflowing:
            self._overflowing = True  # one alarm per overflow episode, not one per eviction
            self.emit(wire.alarm, "outbox_overflow")
        elif not evicted and ob.depth() < ob.max_records // 2:
            self._overflowing = False
        return seq

    # ---- incoming (the link's callbacks) ------------------------------------------------------

    def on_up(self):
        """The link is up: resend everything unacked, publish the retained online status and
        resume a download (firmware/online.py, loaded for the call and dropped after)."""
        self._sent_rn = -1
        self._kick = True
        __import__("online").run(self)
        sys.modules.pop("online", None)

    def on_message(self, topic, payload):
        try:
            ch = topic[topic.rfind("/") + 1 :]
            if ch == "scr" and self.display is not None:  # screen bitmaps: firmware/display.py
                return self.display.receive(self, topic, payload)
            if ch == "ota" or ch == "blk":
                import wire_ota  # noqa: F401 - registers the update kinds (firmware/ota.py)
            msg = None
            if ch in _DOWN and topic == self.topic(ch):
                msg = wire.decode(payload, ch)  # each channel carries the kind of its own name
            if msg is None or msg["d"] != self.id:
                # Another device's downlink (seen from amqtt after a broker restart), or a
                # payload naming another device: never apply.
                raise wire.WireError("not for this device")
        except wire.WireError as e:
            self.hal.log({"ev": "bad_msg", "topic": topic, "err": str(e)})
            return
        k = msg["k"]
        if k == "ack":
            n = self.outbox.ack(msg["b"], msg["n"], msg.get("x") or ())
            if n:
                self._resend_wait = self.resend_ms
            self.hal.log({"ev": "acked", "n": n, "depth": self.outbox.depth()})
        elif k == "resend":
            self._resend_req.append((msg["b"], msg["from"], msg["to"]))
            self._kick = True
        elif k == "cfg":
            self.apply_cfg(msg)
        elif k == "req":
            self._gw_time(msg.get("t"))
            if self.on_req is not None:
                self.on_req(msg)
        else:  # ota, blk: the update code is heap only while an update runs (firmware/ota.py)
            import ota

            ota.handle(self, msg)

    def apply_cfg(self, msg, save=True):
        """Retained config from the gateway (firmware/cfg_apply.py, loaded for the call)."""
        __import__("cfg_apply").run(self, msg, save)
        sys.modules.pop("cfg_apply", None)

    # ---- tasks --------------------------------------------------------------------------------

    async def sender(self):
        link = self.link
        ob = self.outbox
        while True:
            self.beat("sender")
            while not link.up:
                self.beat("sender")
                await asyncio.sleep_ms(50)
            self._kick = False
            while self._resend_req:  # rare: its code is heap only meanwhile (firmware/resend.py)
                await __import__("resend").run(self, *self._resend_req.pop(0))
                sys.modules.pop("resend", None)
            entry = ob.first_after(self._sent_rn)
            if entry is None:
                # Wait for a kick (new event, reconnect, resend request) or the resend timer. A
                # flag polled every 20 ms, not an Event under wait_for_ms: no timeout task.
                t0 = ticks_ms()
                while not self._kick:
                    self.beat("sender")
                    if ticks_diff(ticks_ms(), t0) >= self._resend_wait:
                        if ob.depth():
                            # No end-to-end ack in time: send the unacked again, less often
                            # each round, so a slow gateway is not buried under copies.
                            self._sent_rn = -1
                            self._resend_wait = min(self._resend_wait * 2, self.resend_ms * 6)
                        break
                    await asyncio.sleep_ms(20)
                continue
            rn = entry[0]
            if await self._publish(entry, rn <= self._max_sent_rn or rn < ob.loaded_rn):
                self._sent_rn = rn
                if rn > self._max_sent_rn:
                    self._max_sent_rn = rn
            else:
                await asyncio.sleep_ms(100)

    async def _publish(self, entry, again):
        self.beat("sender")
        try:
            data = self.outbox.read(entry)
        except OSError:
            return True  # compacted away under us: it was acked
        if again:
            data = data[:-1] + b',"rs":true}'
        i = data.find(b'"k":"') + 5  # the kind names the channel
        kind = bytes(data[i : data.find(b'"', i)]).decode()
        return await self.link.publish(self.topic(kind), data, 1)

    async def heartbeat(self):
        """Every hb_s: the clock sync and a heartbeat while the link is up (firmware/hb.py,
        loaded for each turn and dropped after: its code is heap only then)."""
        self._sync_at = 0  # uptime of the next clock sync
        while True:
            gc.collect()
            if self.link.up:
                await __import__("hb").run(self)
                sys.modules.pop("hb", None)
            await asyncio.sleep(self.hb_s)

    async def supervise(self, ms, stale_ms, critical):
        """The supervisor (docs/firmware.md, Supervisor): feeds the hal's watchdog (timeout
        ``ms``) every second while each task named in ``critical`` has checked in (beat) within
        ``stale_ms``. A stale task is logged to flash once and the feeding stops for good: the
        watchdog resets the chip. An uncaught exception in any task goes to crash()."""
        asyncio.get_event_loop().set_exception_handler(self.crash)
        wdt = self.hal.watchdog(ms)
        t0 = ticks_ms()
        while True:
            now = ticks_ms()
            for t in critical:
                if ticks_diff(now, self.beats.get(t, t0)) > stale_ms:
                    __import__("supervisor").fatal(self, "stale " + t, "wdt")
                    # No more feeds: the watchdog resets the chip within ms. Should it not
                    # (the unix port has none), the supervisor resets after that long itself.
                    await asyncio.sleep_ms(ms)
                    self.hal.reset("wdt")
            wdt.feed()
            await asyncio.sleep_ms(1000)

    def crash(self, _loop, ctx):
        """The event loop's exception handler: an uncaught exception in a task is logged to
        flash and the device resets (firmware/supervisor.py, loaded only then)."""
        __import__("supervisor").crash(self, ctx)


async def run(hal, conf):
    """Start the device of kind conf["kind"]; return when the hal's control channel ends."""
    import startup

    app, coros = startup.build(hal, conf)
    del startup
    sys.modules.pop("startup")  # its code is garbage now: start-up is done
    tasks = []
    for c in coros:
        tasks.append(asyncio.create_task(c))
    gc.collect()
    await hal.control(app)
    for t in tasks:
        t.cancel()
