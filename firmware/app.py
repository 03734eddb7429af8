"""The device core: a handful of asyncio tasks around the outbox, the MQTT link and the hal.

Tasks: link (connect/reconnect), sender (outbox -> broker, resend until the end-to-end ack),
heartbeat, watchdog, clock, plus the device kind's own (evaluator_app / ballot_app).
"""

import asyncio
import binascii
import gc
import os
from time import ticks_diff, ticks_ms

import wire
from clock import Clock
from display import Display
from mqtt_link import MqttLink
from outbox import Outbox

FW_VERSION = "0.1.0"
_DOWN = ("cfg", "req", "ack", "resend")


def _kind_of(data):
    i = data.find(b'"k":"') + 5
    return bytes(data[i : data.find(b'"', i)]).decode()


def gaps(held, first, last):
    """The (a, b) runs of first..last not in the sorted list ``held``, without enumerating."""
    out = []
    a = first
    for s in held:
        if s > a:
            out.append((a, s - 1))
        a = s + 1
    if a <= last:
        out.append((a, last))
    return out


class Device:
    def __init__(self, hal, conf):
        self.hal = hal
        self.conf = conf
        self.id = conf["device"]
        self.hall = conf["hall"]
        self.kind = conf["kind"]
        # Boot id: 8 hex chars from the hardware RNG, new on every boot (never configurable: a
        # reused boot id would make new events collide with old keys); seq restarts at 1.
        self.boot = binascii.hexlify(os.urandom(4)).decode()
        self.seq = 0
        self.clock = Clock(hal)
        self.display = Display(hal, conf.get("lang", "zh"))
        self.outbox = Outbox(
            conf.get("outbox", "outbox.bin"),
            conf.get("outbox_records", 200),
            conf.get("outbox_bytes", 32768),
            write=hal.outbox_write,
        )
        self.hb_s = conf.get("heartbeat", 30)
        self.resend_ms = conf.get("resend_ms", 10000)
        self._resend_wait = self.resend_ms  # doubles while no ack comes, back to resend_ms on one
        self.cfg = None
        self.cfg_path = conf.get("cfg_path") or conf.get("outbox", "outbox.bin") + ".cfg"
        self.on_cfg = None  # the kind's app hooks
        self.on_req = None
        self.state = None  # a short state string for the heartbeat
        self._kick = asyncio.Event()
        self._resend_req = []
        self._sent_rn = -1  # entries with rn <= this were published on this connection
        self._max_sent_rn = -1
        self._overflowing = False
        self._announce = None
        self._up_ms = 0
        self._up_last = ticks_ms()
        will = (self.topic("status"), self._status("offline"), 1, True)
        self.link = MqttLink(
            hal,
            self.id,
            conf.get("broker_host", "127.0.0.1"),
            conf.get("broker_port", 1883),
            conf.get("broker_user"),
            conf.get("broker_password"),
            conf.get("keepalive", 30),
            will,
            [(self.topic(ch), 1) for ch in _DOWN],
            self._on_message,
            self._on_up,
            conf.get("backoff_base_ms", 500),
            conf.get("backoff_max_ms", 30000),
        )
        hal.on_wifi_down(self.link.drop)

    # ---- helpers ------------------------------------------------------------------------------

    def topic(self, channel):
        return wire.device_topic(self.hall, self.id, channel)

    def uptime(self):
        """Milliseconds since boot; accumulated so the ticks wrap-around does not matter."""
        now = ticks_ms()
        self._up_ms += ticks_diff(now, self._up_last)
        self._up_last = now
        return self._up_ms

    def _status(self, state):
        return wire.encode(
            wire.status(self.id, self.boot, state, self.kind, FW_VERSION, self.clock.now())
        )

    def status(self):
        return {
            "device": self.id,
            "boot": self.boot,
            "seq": self.seq,
            "depth": self.outbox.depth(),
            "ovf": self.outbox.overflow,
            "link": self.link.up.is_set(),
            "connects": self.link.connects,
            "state": self.state,
            "screen": self.display.screen,
            "cfg_rev": self.cfg["rev"] if self.cfg else None,
            "t": self.clock.now(),
        }

    # ---- events -------------------------------------------------------------------------------

    def emit(self, make, what, *rest):
        """Queue a sequenced event ``make(device, boot, seq, what, t, up, *rest)`` (wire.vote..)."""
        self.seq += 1
        seq = self.seq
        msg = make(self.id, self.boot, seq, what, self.clock.now(), self.uptime(), *rest)
        evicted = self.outbox.append(wire.encode(msg), self.boot, seq)
        self.hal.log({"ev": "queued", "k": msg["k"], "s": seq, "depth": self.outbox.depth()})
        self._kick.set()
        if evicted and not self._overflowing:
            self._overflowing = True  # one alarm per overflow episode, not one per eviction
            self.emit(wire.alarm, "outbox_overflow")
        elif not evicted and self.outbox.depth() < self.outbox.max_records // 2:
            self._overflowing = False
        return seq

    # ---- incoming -----------------------------------------------------------------------------

    def _on_up(self):
        self._sent_rn = -1  # resend everything unacked on every (re)connect
        self._kick.set()
        self._announce = asyncio.create_task(
            self.link.publish(self.topic("status"), self._status("online"), 1, True)
        )

    def _on_message(self, topic, payload):
        try:
            _, dev, msg = wire.decode_for_topic(topic, payload)
        except wire.WireError as e:
            self.hal.log({"ev": "bad_msg", "topic": topic, "err": str(e)})
            return
        if dev != self.id:
            # Another device's downlink (seen from amqtt after a broker restart): never apply it.
            self.hal.log({"ev": "bad_msg", "topic": topic, "err": "not for this device"})
            return
        k = msg["k"]
        if k == "ack":
            n = self.outbox.ack(msg["b"], msg["n"], msg.get("x") or ())
            if n:
                self._resend_wait = self.resend_ms
            self.hal.log({"ev": "acked", "n": n, "depth": self.outbox.depth()})
        elif k == "resend":
            self._resend_req.append((msg["b"], msg["from"], msg["to"]))
            self._kick.set()
        elif k == "cfg":
            self.apply_cfg(msg)
        elif k == "req":
            self.clock.from_gateway(msg.get("t"))
            if self.on_req is not None:
                self.on_req(msg)

    def apply_cfg(self, msg, save=True):
        """Retained config from the gateway: applied at once, and kept on flash for the next
        boot, so a device that starts while the broker is down still has its levels and window."""
        if save and (self.cfg is None or self.cfg != msg):
            try:
                with open(self.cfg_path, "wb") as f:
                    f.write(wire.encode(msg))
            except (OSError, wire.WireError):
                pass
        self.cfg = msg
        self.display.staff = msg.get("staff")
        self.hb_s = msg.get("hb") or self.hb_s
        self.clock.from_gateway(msg.get("t"))
        if msg.get("lang") in ("zh", "en"):
            self.display.lang = msg["lang"]
        self.hal.log({"ev": "cfg", "rev": msg["rev"]})
        if self.on_cfg is not None:
            self.on_cfg(msg)

    # ---- tasks --------------------------------------------------------------------------------

    async def sender(self):
        while True:
            if not self.link.up.is_set():
                await self.link.up.wait()
            self._kick.clear()
            while self._resend_req:
                await self._resend(*self._resend_req.pop(0))
            entry = self.outbox.first_after(self._sent_rn)
            if entry is None:
                try:
                    await asyncio.wait_for_ms(self._kick.wait(), self._resend_wait)
                except asyncio.TimeoutError:
                    if self.outbox.depth():
                        # No end-to-end ack in time: send the unacked again, less often each
                        # round, so a slow gateway is not buried under copies of its backlog.
                        self._sent_rn = -1
                        self._resend_wait = min(self._resend_wait * 2, self.resend_ms * 6)
                continue
            again = entry[0] <= self._max_sent_rn or entry[0] < self.outbox.loaded_rn
            if await self._publish(entry, again):
                self._sent_rn = entry[0]
                if entry[0] > self._max_sent_rn:
                    self._max_sent_rn = entry[0]
            else:
                await asyncio.sleep_ms(100)

    async def _publish(self, entry, again):
        try:
            data = self.outbox.read(entry)
        except OSError:
            return True  # compacted away under us: it was acked
        if again:
            data = data[:-1] + b',"rs":true}'
        return await self.link.publish(self.topic(_kind_of(data)), data, 1)

    async def _resend(self, boot, first, last):
        """The gateway asked for boot's seqs first..last: send what we have, "gone" the rest."""
        held = [e[2] for e in self.outbox.entries() if e[1] == boot and first <= e[2] <= last]
        held.sort()
        for s in held:
            e = self.outbox.find(boot, s)  # afresh: an ack may have compacted the file meanwhile
            if e is not None:
                await self._publish(e, True)
        if boot == self.boot and last > self.seq:
            last = self.seq
        for a, b in gaps(held, first, last):
            data = wire.encode(wire.gone(self.id, boot, a, b))
            await self.link.publish(self.topic("gone"), data, 1)

    async def heartbeat(self):
        while True:
            gc.collect()
            if self.link.up.is_set():
                hb = wire.heartbeat(
                    self.id,
                    self.boot,
                    self.clock.now(),
                    self.uptime(),
                    self.seq,
                    self.outbox.depth(),
                    self.hal.mem_free(),
                    self.hal.rssi(),
                    self.outbox.overflow,
                    self.state,
                )
                await self.link.publish(self.topic("hb"), wire.encode(hb), 0)
            else:
                self.uptime()
            await asyncio.sleep(self.hb_s)

    async def watchdog(self):
        ms = self.conf.get("watchdog_ms", 30000)
        wdt = self.hal.watchdog(ms)
        while True:
            wdt.feed()  # a stuck event loop stops feeding and the chip resets
            await asyncio.sleep_ms(ms // 3)

    async def clock_task(self):
        while True:
            if self.link.up.is_set() or self.hal.wifi_up():
                self.clock.sync()
            await asyncio.sleep(3600 if self.clock.source == "ntp" else 60)


async def run(hal, conf):
    """Start the device of kind conf["kind"]; return when the hal's control channel ends."""
    dev = Device(hal, conf)
    dev.outbox.load()
    if conf["kind"] == "ballot_box":
        from ballot_app import BallotApp

        app = BallotApp(dev, hal, conf)
    else:
        from evaluator_app import EvaluatorApp

        app = EvaluatorApp(dev, hal, conf)
    try:
        with open(dev.cfg_path, "rb") as f:
            dev.apply_cfg(wire.decode(f.read(), "cfg"), False)
    except (OSError, wire.WireError):
        pass  # none yet: the gateway's retained cfg arrives on connect
    hal.log(
        {
            "ev": "ready",
            "boot": dev.boot,
            "depth": dev.outbox.depth(),
            "skipped": dev.outbox.skipped_bytes,
            "kind": dev.kind,
        }
    )
    coros = [dev.link.run(), dev.sender(), dev.heartbeat(), dev.watchdog(), dev.clock_task()]
    tasks = [asyncio.create_task(c) for c in coros + list(app.tasks())]
    await hal.control(app)
    for t in tasks:
        t.cancel()
