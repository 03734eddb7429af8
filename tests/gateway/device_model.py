"""A small device model speaking the wire contract over paho, for gateway tests.

It behaves like the firmware where it matters to the gateway: every sequenced event stays in an
outbox until the gateway's end-to-end ack covers it, and is resent on a timer and on reconnect;
a resend request is answered from the outbox, or with "gone" for events the device lost.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware import wire, wire_gw


class WireDevice:
    def __init__(
        self,
        host: str,
        port: int,
        hall: str,
        device: str,
        kind: str = "evaluator",
        boot: str | None = None,
        resend_s: float = 1.0,
    ) -> None:
        self.hall = hall
        self.device = device
        self.kind = kind
        self.boot = boot or uuid.uuid4().hex[:8]
        self.seq = 0
        self.resend_s = resend_s
        self.outbox: dict[int, dict[str, Any]] = {}
        self.forgotten: set[int] = set()  # seqs the device lost before sending (power cut)
        self.acks: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.configs: list[dict[str, Any]] = []
        self.resend_requests: list[dict[str, Any]] = []
        self.ignore_resend = False
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self._stop = threading.Event()
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{device}-{self.boot}", clean_session=True
        )
        c.will_set(
            self.topic("status"),
            wire.encode(wire.status(device, self.boot, "offline")),
            qos=1,
            retain=True,
        )
        c.reconnect_delay_set(0.2, 2)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda *a: self.connected.clear()
        c.on_message = self._on_message
        self.client = c
        c.connect_async(host, port, keepalive=20)
        c.loop_start()
        self._timer = threading.Thread(target=self._resend_loop, daemon=True)
        self._timer.start()

    def topic(self, channel: str) -> str:
        return wire.device_topic(self.hall, self.device, channel)

    def close(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()

    # ---- events ---------------------------------------------------------------------------

    def vote(
        self,
        level: str = "satisfied",
        t: int | None = None,
        rq: dict[str, Any] | None = None,
        flags: list[str] | None = None,
        send: bool = True,
    ) -> int:
        with self.lock:
            self.seq += 1
            s = self.seq
            if rq is not None:
                msg = wire.vote(
                    self.device,
                    self.boot,
                    s,
                    level,
                    t,
                    s * 1000,
                    rq=rq["rq"],
                    tk=rq["tk"],
                    w=rq["w"],
                    flags=flags,
                )
            else:
                msg = wire.vote(self.device, self.boot, s, level, t, s * 1000, flags=flags)
            self.outbox[s] = msg
        if send:
            self._send(msg)
        return s

    def drop(self, slot: int, tk: str | None = None, t: int | None = None) -> int:
        with self.lock:
            self.seq += 1
            s = self.seq
            msg = wire.drop(self.device, self.boot, s, slot, t, s * 1000, tk=tk)
            self.outbox[s] = msg
        self._send(msg)
        return s

    def forget(self) -> int:
        """A seq the device consumed and then lost (the gateway will see a gap)."""
        with self.lock:
            self.seq += 1
            self.forgotten.add(self.seq)
            return self.seq

    def heartbeat(self, rssi: int = -60) -> None:
        with self.lock:
            msg = wire.heartbeat(
                self.device,
                self.boot,
                None,
                1000,
                self.seq,
                len(self.outbox),
                heap=50000,
                rssi=rssi,
            )
        self.client.publish(self.topic("hb"), wire.encode(msg), qos=0)

    def _send(self, msg: dict[str, Any]) -> None:
        self.client.publish(self.topic(msg["k"]), wire.encode(msg), qos=1)

    def resend_all(self) -> None:
        with self.lock:
            pending = [self.outbox[s] for s in sorted(self.outbox)]
        for m in pending:
            self._send(m)

    def pending(self) -> int:
        with self.lock:
            return len(self.outbox)

    def wait_all_acked(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.05)
        return False

    # ---- MQTT -----------------------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        client.subscribe([(self.topic(ch), 1) for ch in ("cfg", "req", "ack", "resend")])
        client.publish(
            self.topic("status"),
            wire.encode(wire.status(self.device, self.boot, "online", self.kind, "test-1.0")),
            qos=1,
            retain=True,
        )
        self.connected.set()
        self.resend_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        _, _, m = wire_gw.decode_for_topic(msg.topic, msg.payload)
        k = m["k"]
        with self.lock:
            if k == "ack" and m["b"] == self.boot:
                self.acks.append(m)
                done = {s for s in self.outbox if s <= m["n"]} | set(m.get("x", []))
                for s in done:
                    self.outbox.pop(s, None)
            elif k == "req":
                self.requests.append(m)
            elif k == "cfg":
                self.configs.append(m)
            elif k == "resend" and m["b"] == self.boot:
                self.resend_requests.append(m)
                held = sorted(s for s in self.outbox if m["from"] <= s <= m["to"])
                have = [self.outbox[s] for s in held]
                # One "gone" from the lowest to the highest asked seq it does not hold, found
                # without expanding the asked range.
                lo, hi = m["from"], m["to"]
                while held and held[0] == lo:
                    held.pop(0)
                    lo += 1
                while held and held[-1] == hi:
                    held.pop()
                    hi -= 1
                lost = [lo, hi] if lo <= hi else []
        if k == "resend" and m["b"] == self.boot and not self.ignore_resend:
            for ev in have:
                self._send(ev)
            if lost:
                g = wire.gone(self.device, self.boot, min(lost), max(lost))
                client.publish(self.topic("gone"), wire.encode(g), qos=1)

    def _resend_loop(self) -> None:
        while not self._stop.wait(self.resend_s):
            if self.connected.is_set():
                self.resend_all()
