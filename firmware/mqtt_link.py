"""A small non-blocking asyncio MQTT 3.1.1 client over the hal's sockets (ADR 0008).

CONNECT with clean session and a last will; PUBLISH QoS 0/1 with PUBACK tracking and a
timeout; SUBSCRIBE; PINGREQ keep-alive; reconnect with exponential backoff plus jitter.
Incoming QoS 1 messages are acknowledged after the handler ran.
"""

import asyncio
import os
import struct
import sys
from time import ticks_diff, ticks_ms

from micropython import const

_PUBLISH = const(0x30)
_PUBACK = const(0x40)
_PINGREQ = const(0xC0)


def _varlen(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack("!H", len(s)) + s


def publish_packet(topic, payload, qos, retain, pid):
    body = _str(topic)
    if qos:
        body += struct.pack("!H", pid)
    body += payload
    return bytes((_PUBLISH | (qos << 1) | (1 if retain else 0),)) + _varlen(len(body)) + body


def backoff_ms(fails, base_ms, max_ms, rnd):
    """Exponential backoff capped at max_ms, with +-25% jitter from ``rnd`` in [0, 1)."""
    d = min(base_ms << min(fails, 12), max_ms)
    return int(d * (0.75 + rnd / 2))


class MqttLink:
    """The device's connection: ``hello`` is the CONNECT packet (startup.connect_packet:
    client id, keep-alive, the last will, broker_user and broker_password of the device config,
    the same on every connect) and ``subscriptions`` the topic filters of the SUBSCRIBE sent
    after it (mqtt_connect.subscribe_packet); ``dev`` gets on_up() on every connect and
    on_message(topic, payload). startup.build() sets one up and starts run() with the config's
    broker_host, broker_port, backoff_base_ms and backoff_max_ms (start-up code is not kept in
    RAM)."""

    # ---- public -----------------------------------------------------------------------------

    async def publish(self, topic, payload, qos=0, retain=False):
        """Send one message. QoS 1 waits for PUBACK. Returns True when delivered to the broker."""
        if not self.up:
            return False
        pid = 0
        if qos:
            pid = self._pid = self._pid % 65535 + 1
            self._acks[pid] = False  # _read_loop sets True on its PUBACK; _serve empties _acks
        try:
            await self._send(publish_packet(topic, payload, qos, retain, pid))
            if not qos:
                return True
            # Polled (every 5 ms, up to 5 s), not an Event under wait_for_ms: asyncio.funcs is
            # never loaded (docs/benchmarks.md, Firmware).
            t0 = ticks_ms()
            while self._acks.get(pid) is False and ticks_diff(ticks_ms(), t0) < 5000:
                await asyncio.sleep_ms(5)
            ok = self._acks.pop(pid, None)
            if ok is False:
                raise OSError("no PUBACK")  # the link is suspect: drop it
            return ok is True  # None: the link went down meanwhile
        except Exception:
            self._acks.pop(pid, None)
            self.drop()
            return False

    def drop(self):
        """Declare the connection dead (Wi-Fi lost, timeout); the run loop reconnects."""
        self._dead = True

    async def run(self, host, port, base_ms, max_ms):
        """Connect to the broker at host:port, serve, reconnect forever (backoff base_ms up to
        max_ms). Checks in (dev.beat("link")) at least every second; a Wi-Fi or connect error
        is logged and retried, never the end of the task."""
        fails = 0
        while True:
            self.dev.beat("link")
            try:
                ok = await self.hal.wifi_connect()
            except Exception as e:  # wlan.connect() raises OSError on some driver states
                self.hal.log({"ev": "wifi_fail", "err": repr(e)})
                ok = False
            if ok:
                # The connect as a task given 10 s, polled (no wait_for_ms: see publish); it keeps
                # its own error in _err, so a task never ends with an exception nobody takes.
                self._err = OSError("connect timed out")
                # The connect code (firmware/mqtt_connect.py) is heap only while it runs.
                t = asyncio.create_task(__import__("mqtt_connect").connect(self, host, port))
                t0 = ticks_ms()
                while not t.done() and ticks_diff(ticks_ms(), t0) < 10000:
                    self.dev.beat("link")
                    await asyncio.sleep_ms(20)
                if not t.done():
                    t.cancel()
                t = None  # the task holds the connect code: let it go with the module
                sys.modules.pop("mqtt_connect", None)
                if self._err is not None:
                    self.hal.log({"ev": "mqtt_fail", "err": repr(self._err)})
                    self._close()
                else:
                    fails = 0
                    await self._serve()
            fails += 1
            d = backoff_ms(fails - 1, base_ms, max_ms, os.urandom(1)[0] / 256)
            while d > 0:  # in pieces, checking in
                self.dev.beat("link")
                await asyncio.sleep_ms(min(d, 1000))
                d -= 1000

    # ---- connection -------------------------------------------------------------------------

    async def _serve(self):
        rx = asyncio.create_task(self._read_loop())
        self.up = True
        self.hal.log({"ev": "link", "up": True})
        self.dev.on_up()
        ka = self.keepalive
        ping = ticks_ms()
        try:
            # _dead is a flag polled every 50 ms, not an Event under wait_for_ms: no timeout task.
            while not self._dead:
                await asyncio.sleep_ms(50)
                self.dev.beat("link")
                now = ticks_ms()
                if ticks_diff(now, ping) >= ka * 500:
                    if ticks_diff(now, self._last_rx) > ka * 1500:
                        break  # the broker went silent
                    ping = now
                    try:
                        await self._send(bytes((_PINGREQ, 0)))
                    except Exception:
                        break
        finally:
            self.up = False
            rx.cancel()
            self._close()
            self._acks = {}  # waiting publishes see their pid gone: not delivered
            self.hal.log({"ev": "link", "up": False})

    def _close(self):
        w = self._writer
        self._reader = self._writer = None
        if w is not None:
            try:
                w.close()
            except Exception:
                pass

    async def _send(self, data):
        # One writer at a time: two concurrent drain()s of a part-sent buffer would resend it.
        # A flag and a short wait instead of asyncio.Lock: the Lock class is heap of its own.
        while self._busy:
            await asyncio.sleep_ms(5)
        w = self._writer
        if w is None:
            raise OSError("not connected")
        self._busy = True
        try:
            w.write(data)
            await w.drain()
        finally:
            self._busy = False

    async def _read_packet(self):
        r = self._reader
        hdr = await r.readexactly(1)
        n = 0
        shift = 0
        while True:
            b = (await r.readexactly(1))[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        body = await r.readexactly(n) if n else b""
        return hdr[0], body

    async def _read_loop(self):
        try:
            while True:
                typ, body = await self._read_packet()
                self._last_rx = ticks_ms()
                kind = typ & 0xF0
                if kind == _PUBLISH:
                    qos = (typ >> 1) & 3
                    pos = 2 + struct.unpack("!H", body[:2])[0]
                    topic = bytes(body[2:pos]).decode()
                    pid = 0
                    if qos:
                        pid = struct.unpack("!H", body[pos : pos + 2])[0]
                        pos += 2
                    try:
                        self.dev.on_message(topic, bytes(body[pos:]))
                    except Exception as e:
                        self.hal.log({"ev": "handler_error", "err": repr(e)})
                    if qos == 1:  # acknowledged after the handler ran
                        await self._send(bytes((_PUBACK, 2)) + struct.pack("!H", pid))
                elif kind == _PUBACK:
                    pid = struct.unpack("!H", body[:2])[0]
                    if pid in self._acks:
                        self._acks[pid] = True
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.hal.log({"ev": "mqtt_rx_end", "err": repr(e)})
        self._dead = True
