"""Fake devices and a spy for the ack-promise fuzz test (tests/e2e/test_ack_promise_fuzz.py).

`FuzzDevice` behaves like the firmware where the contract says so (docs/protocol.md): every
sequenced event stays in its outbox until an end-to-end ack covers it, and is resent on a timer
and on reconnect; a resend request is answered from the outbox and with `gone` for the rest.
Unlike tests/gateway/device_model.py it never expands a range a gateway (or an attacker) chose:
gaps and gone answers are computed as intervals over what the device holds.

`Spy` listens to every downlink of the hall (acks for any device and boot, rating requests,
queue errors) so the test can tell which events were acked, whoever sent them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.publish import single

from firmware import wire, wire_gw


def new_boot() -> str:
    return uuid.uuid4().hex[:8]


def _client(client_id: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    c.reconnect_delay_set(1, 2)
    return c


class FuzzDevice:
    """One device id of hall.toml; a fresh boot id per example (`reboot`)."""

    def __init__(self, host: str, port: int, hall: str, device: str, resend_s: float = 0.7):
        self.hall = hall
        self.device = device
        self.boot = new_boot()
        self.seq = 0
        self.outbox: dict[int, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.resends: list[tuple[int, int]] = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self._stop = threading.Event()
        self.resend_s = resend_s
        c = _client(f"fz-{device}-{uuid.uuid4().hex[:6]}")
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

    def reboot(self) -> None:
        """A fresh boot id (the previous boot's outbox must be empty: the test checks that)."""
        with self.lock:
            self.boot = new_boot()
            self.seq = 0
            self.outbox.clear()

    def close(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()

    # ---- sequenced events -----------------------------------------------------------------

    def send_event(self, build: Any) -> tuple[str, int, dict[str, Any]]:
        """build(boot, seq) -> message; kept in the outbox until acked. Returns (boot, seq, msg)."""
        with self.lock:
            self.seq += 1
            s = self.seq
            msg = build(self.boot, s)
            self.outbox[s] = msg
            boot = self.boot
        self._send(msg)
        return boot, s, msg

    def forget(self, n: int) -> None:
        """The device used n seqs and lost them (a torn record): a heartbeat will show them."""
        with self.lock:
            self.seq += n

    def heartbeat(self, claim: int | None = None) -> None:
        with self.lock:
            s = self.seq if claim is None else claim
            msg = wire.heartbeat(self.device, self.boot, None, 1000, s, len(self.outbox))
        self.client.publish(self.topic("hb"), wire.encode(msg), qos=0)

    def _send(self, msg: dict[str, Any]) -> None:
        self.client.publish(self.topic(msg["k"]), wire.encode(msg), qos=1)

    def pending(self) -> list[int]:
        with self.lock:
            return sorted(self.outbox)

    def wait_request(self, tk: str, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for r in self.requests:
                    if r["tk"] == tk:
                        return r
            time.sleep(0.02)
        return None

    def request_ids(self) -> set[str]:
        with self.lock:
            return {r["rq"] for r in self.requests}

    # ---- MQTT -----------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe([(self.topic(ch), 1) for ch in ("cfg", "req", "ack", "resend")])
        st = wire.status(self.device, self.boot, "online", None, "fuzz-1.0")
        client.publish(self.topic("status"), wire.encode(st), qos=1, retain=True)
        self.connected.set()
        self._resend_all()

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            _, _, m = wire_gw.decode_for_topic(msg.topic, msg.payload)
        except wire.WireError:
            return  # a forged downlink: a device ignores what it cannot decode
        k = m["k"]
        answer: list[dict[str, Any]] = []
        with self.lock:
            if k == "ack" and m["b"] == self.boot:
                x = set(m.get("x", []))
                for s in [s for s in self.outbox if s <= m["n"] or s in x]:
                    del self.outbox[s]
            elif k == "req":
                self.requests.append(m)
            elif k == "resend" and m["b"] == self.boot:
                lo, hi = m["from"], min(m["to"], self.seq)
                self.resends.append((m["from"], m["to"]))
                held = [s for s in sorted(self.outbox) if lo <= s <= hi]
                answer = [self.outbox[s] for s in held]
                start = lo
                for s in [*held, hi + 1]:  # the holes between held seqs, as ranges
                    if start < s and start <= hi:
                        answer.append(wire.gone(self.device, self.boot, start, min(s - 1, hi)))
                    start = s + 1
        for a in answer[:50]:
            self._send(a)

    def _resend_all(self) -> None:
        with self.lock:
            pending = [self.outbox[s] for s in sorted(self.outbox)]
        for m in pending:
            self._send(m)

    def _resend_loop(self) -> None:
        while not self._stop.wait(self.resend_s):
            if self.connected.is_set():
                self._resend_all()


class Spy:
    """Every downlink of the hall, plus a raw publisher for hostile payloads."""

    def __init__(self, host: str, port: int, hall: str) -> None:
        self.hall = hall
        self.host, self.port = host, port
        self.lock = threading.Lock()
        self.acks: dict[tuple[str, str], tuple[int, set[int]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.queue_errors: list[Any] = []
        self.connected = threading.Event()
        c = _client(f"fz-spy-{uuid.uuid4().hex[:6]}")
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        self.client = c
        c.connect_async(host, port, keepalive=20)
        c.loop_start()
        # Hostile payloads go out on a client of their own: a broker may disconnect it (Mosquitto's
        # max_packet_size) without the spy missing an ack.
        self.attacker_up = threading.Event()
        a = _client(f"fz-attacker-{uuid.uuid4().hex[:6]}")
        a.on_connect = lambda *_: self.attacker_up.set()
        a.on_disconnect = lambda *_: self.attacker_up.clear()
        self.attacker = a
        a.connect_async(host, port, keepalive=20)
        a.loop_start()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        root = f"{wire.TOPIC_ROOT}/{self.hall}"
        client.subscribe(
            [(f"{root}/dev/+/ack", 1), (f"{root}/dev/+/req", 1), (f"{root}/queue/err", 1)]
        )
        self.connected.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.endswith("/queue/err"):
            try:
                body = json.loads(msg.payload)
            except ValueError:
                body = None
            with self.lock:
                self.queue_errors.append(body)
            return
        try:
            _, _, m = wire_gw.decode_for_topic(msg.topic, msg.payload)
        except wire.WireError:
            return
        with self.lock:
            if m["k"] == "ack":
                n, x = self.acks.get((m["d"], m["b"]), (0, set()))
                self.acks[(m["d"], m["b"])] = (max(n, m["n"]), x | set(m.get("x", [])))
            elif m["k"] == "req":
                self.requests.append(m)

    def acked(self, device: str, boot: str, seq: int) -> bool:
        with self.lock:
            n, x = self.acks.get((device, boot), (0, set()))
        return seq <= n or seq in x

    def queue_error_ids(self) -> set[Any]:
        with self.lock:
            return {e.get("id") for e in self.queue_errors if isinstance(e, dict)}

    def request_ids(self) -> set[str]:
        with self.lock:
            return {r["rq"] for r in self.requests}

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos).wait_for_publish(5)

    def attack(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish a hostile payload; the attacker may be thrown off, so wait for it to be back.
        A payload above a broker's packet limit goes out on a throwaway connection."""
        if len(payload) > 4000:
            with contextlib.suppress(Exception):  # refused or cut off by the broker: fine
                single(topic, payload, qos=0, hostname=self.host, port=self.port)
            return
        self.attacker_up.wait(10)
        # Thrown off by the broker: the payload went nowhere, which is fine.
        with contextlib.suppress(RuntimeError, ValueError):
            self.attacker.publish(topic, payload, qos=qos).wait_for_publish(2)

    def close(self) -> None:
        for c in (self.client, self.attacker):
            c.disconnect()
            c.loop_stop()
