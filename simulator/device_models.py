"""Python models of the evaluator and the ballot box that speak the exact wire protocol, for scale.

Each model holds one MQTT connection (its own last will), a boot id and per-boot sequence, and an
outbox (in memory, or an append-only file that survives a simulated power loss). It resends until
the gateway's end-to-end ack (on a timer and on every reconnect), answers resend requests (or
"gone"), publishes a retained status with a last will and heartbeats, applies the retained cfg,
and turns rating requests and presses into votes through the firmware's own evaluator state
machine (firmware/evaluator.py). Hundreds of models share one asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware import wire, wire_gw
from firmware.evaluator import Evaluator
from simulator.mqtt_async import MqttConnection, MqttError

log = logging.getLogger(__name__)

FW_VERSION = "sim-0.1"
RESEND_BUDGET = 50  # events resent per device per timer round
RESEND_MAX_S = 30.0
DOWN_CHANNELS = ("cfg", "req", "ack", "resend")


class Outbox:
    """Unacknowledged sequenced events, keyed (boot, seq). With a path, every change is appended
    to a JSON-lines file first, so a new model on the same path (a reboot) finds them again."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.events: dict[tuple[str, int], dict[str, Any]] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn last line
            if rec.get("op") == "e":
                m = rec["m"]
                self.events[(m["b"], m["s"])] = m
            elif rec.get("op") == "a":
                self._drop(rec["b"], rec["n"], rec.get("x", []))
        self._compact()

    def _append(self, rec: dict[str, Any]) -> None:
        if self.path is not None:
            with self.path.open("a") as f:
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")

    def _compact(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            "".join(
                json.dumps({"op": "e", "m": m}, separators=(",", ":")) + "\n"
                for m in self.events.values()
            )
        )
        tmp.replace(self.path)

    def add(self, msg: dict[str, Any]) -> None:
        self._append({"op": "e", "m": msg})
        self.events[(msg["b"], msg["s"])] = msg

    def _drop(self, boot: str, n: int, extra: list[int]) -> int:
        gone = [k for k in self.events if k[0] == boot and (k[1] <= n or k[1] in extra)]
        for k in gone:
            del self.events[k]
        return len(gone)

    def ack(self, boot: str, n: int, extra: list[int]) -> int:
        dropped = self._drop(boot, n, extra)
        if dropped:
            self._append({"op": "a", "b": boot, "n": n, "x": extra})
            if not self.events:
                self._compact()
        return dropped

    def __len__(self) -> int:
        return len(self.events)


class DeviceModel:
    """One evaluator (kind "evaluator") or ballot box (kind "ballot_box")."""

    def __init__(
        self,
        hall: str,
        device: str,
        kind: str = "evaluator",
        *,
        clock: Callable[[], float] | None = None,
        outbox_path: Path | None = None,
        ttl_s: int = 60,
        resend_s: float = 5.0,
        heartbeat_s: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        if kind not in wire.DEVICE_KINDS:
            raise ValueError(f"unknown device kind {kind!r}")
        self.hall = hall
        self.device = device
        self.kind = kind
        self.base_clock = clock or time.time
        self.skew_s = 0
        self.clock_valid = True
        self.outbox_path = outbox_path
        self.ttl_s = ttl_s
        self.resend_s = resend_s
        self.heartbeat_s = heartbeat_s
        self.rng = rng or random.Random(device)
        self.duplicate_publish = False  # fault: every event goes out twice
        self.drop_first_publish = 0.0  # fault: chance an event's first publish is lost
        self.stats: dict[str, int] = {
            "events": 0,
            "publishes": 0,
            "resends": 0,
            "acked": 0,
            "gone": 0,
            "reqs": 0,
            "stale_reqs": 0,
            "connects": 0,
            "resend_requests": 0,
            "power_losses": 0,
            "misrouted": 0,
        }
        self.cfg: dict[str, Any] | None = None
        self.conn: MqttConnection | None = None
        self.connected = asyncio.Event()
        self.wifi_up = asyncio.Event()
        self.wifi_up.set()
        self.seen_rqs: set[str] = set()
        self._req_signal = asyncio.Event()
        self._cfg_signal = asyncio.Event()
        self._boot()

    # ---- RAM state (lost at power loss) ---------------------------------------------------

    def _boot(self) -> None:
        self.boot = f"{self.rng.getrandbits(32):08x}"
        self.seq = 0
        self.booted_at = time.monotonic()
        self.outbox = Outbox(self.outbox_path)
        self.last_sent: dict[tuple[str, int], float] = {}
        self.attempts: dict[tuple[str, int], int] = {}
        self.evaluator = Evaluator(timeout_ms=self.ttl_s * 1000)
        self.last_press_t: float | None = None
        self._last_tick: int | None = None
        if self.cfg is not None:  # the retained cfg comes back on reconnect; keep the window
            self.evaluator.configure(window=self.cfg.get("w"))

    def now(self) -> int | None:
        """Device time in epoch seconds, or None when the clock is not valid."""
        if not self.clock_valid:
            return None
        return int(self.base_clock() + self.skew_s)

    def _ms(self) -> int:
        return int((self.base_clock() + self.skew_s) * 1000)

    def _up(self) -> int:
        return int((time.monotonic() - self.booted_at) * 1000)

    def topic(self, channel: str) -> str:
        return wire.device_topic(self.hall, self.device, channel)

    # ---- the citizen's hands --------------------------------------------------------------

    def press(self, level: str) -> dict[str, Any] | None:
        """Press the button for ``level``; returns the vote queued (None if the layout lacks it)."""
        if self.kind != "evaluator":
            raise ValueError("only an evaluator has buttons")
        now = self._ms()
        self._tick(now)
        levels = self.evaluator.levels
        if level not in levels:
            return None
        msg: dict[str, Any] | None = None
        for a in self.evaluator.press(levels.index(level), now):
            if a[0] == "vote":
                _, lv, rq, tk, w, flags = a
                msg = self._emit(
                    wire.vote(
                        self.device,
                        self.boot,
                        self.seq + 1,
                        lv,
                        self.now(),
                        self._up(),
                        rq,
                        tk,
                        w,
                        flags,
                    )
                )
        self.last_press_t = self.base_clock() + self.skew_s
        return msg

    def _tick(self, now: int) -> None:
        """Advance the evaluator's timers as the firmware's periodic tick would have, in 250 ms
        steps since the last tick (the state machine needs the intermediate ticks)."""
        t = self._last_tick if self._last_tick is not None else now
        steps = 0
        while t < now and steps < 2000:
            t += 250
            steps += 1
            self.evaluator.tick(min(t, now))
        self.evaluator.tick(now)
        self._last_tick = now

    def drop(self, slot: int, ticket: str | None = None) -> dict[str, Any]:
        if self.kind != "ballot_box":
            raise ValueError("only a ballot box has slots")
        return self._emit(
            wire.drop(self.device, self.boot, self.seq + 1, slot, self.now(), self._up(), ticket)
        )

    def alarm(self, name: str, slot: int | None = None) -> dict[str, Any]:
        return self._emit(
            wire.alarm(self.device, self.boot, self.seq + 1, name, self.now(), self._up(), slot)
        )

    def _emit(self, msg: dict[str, Any]) -> dict[str, Any]:
        wire.validate(msg)
        self.seq = msg["s"]
        self.outbox.add(msg)  # durable before it is sent
        self.stats["events"] += 1
        if self.drop_first_publish and self.rng.random() < self.drop_first_publish:
            self.last_sent[(msg["b"], msg["s"])] = time.monotonic()  # "sent", lost on the way
        else:
            self._send_event(msg)
            if self.duplicate_publish:
                self._send_event(msg)
        return msg

    def _send_event(self, msg: dict[str, Any], resend: bool = False) -> None:
        key = (msg["b"], msg["s"])
        self.last_sent[key] = time.monotonic()
        if self.conn is None or self.conn.closed.is_set():
            return
        out = dict(msg, rs=True) if resend else msg
        with contextlib.suppress(MqttError, OSError):
            self.conn.publish(self.topic(msg["k"]), wire.encode(out), 1, False)
            self.stats["resends" if resend else "publishes"] += 1

    # ---- faults ---------------------------------------------------------------------------

    def power_loss(self) -> None:
        """Power cut: the connection vanishes (the broker sends the will), RAM state is lost,
        and the device boots again with a new boot id; the outbox file survives."""
        self.stats["power_losses"] += 1
        if self.outbox_path is None:
            raise RuntimeError(f"{self.device}: power loss without an outbox file loses votes")
        if self.conn is not None:
            self.conn.abort()
        self._boot()

    def set_wifi(self, up: bool) -> None:
        if up:
            self.wifi_up.set()
        else:
            self.wifi_up.clear()
            if self.conn is not None:
                self.conn.abort()

    def send_malformed(self, kind: int) -> None:
        """Garbage on the device's own uplink topics (the gateway must log, count and go on)."""
        if self.conn is None or self.conn.closed.is_set():
            return
        bad: list[tuple[str, bytes]] = [
            ("vote", b"{not json"),
            (
                "vote",
                json.dumps(
                    {
                        "v": 1,
                        "k": "vote",
                        "d": self.device,
                        "b": self.boot,
                        "s": 0,
                        "t": None,
                        "up": 0,
                        "lv": "great",
                    }
                ).encode(),
            ),
            ("drop", json.dumps({"v": 9, "k": "drop"}).encode()),
            ("vote", b"\xff\xfe\x00binary"),
            ("hb", b"[]"),
        ]
        channel, payload = bad[kind % len(bad)]
        with contextlib.suppress(MqttError, OSError):
            self.conn.publish(self.topic(channel), payload, 1, False)

    # ---- downlink -------------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            _hall, dev, msg = wire_gw.decode_for_topic(topic, payload)
        except wire.WireError as e:
            log.warning("%s: bad downlink on %s: %s", self.device, topic, e)
            return
        if dev != self.device:
            # amqtt 0.12.1 was seen delivering another device's cfg after a broker restart.
            self.stats["misrouted"] += 1
            return
        k = msg["k"]
        if k == "ack":
            n = self.outbox.ack(msg["b"], msg["n"], list(msg.get("x") or []))
            self.stats["acked"] += n
            if n and self.attempts:
                self.attempts = {k: v for k, v in self.attempts.items() if k in self.outbox.events}
        elif k == "resend":
            self._answer_resend(msg["b"], msg["from"], msg["to"])
        elif k == "cfg":
            self.cfg = msg
            self._cfg_signal.set()
            if self.kind == "evaluator":
                self.evaluator.configure(
                    levels=msg.get("levels"),
                    paused=msg.get("paused"),
                    window=msg.get("w"),
                    now=self._ms(),
                )
        elif k == "req" and self.kind == "evaluator":
            self._on_request(msg)

    def _on_request(self, msg: dict[str, Any]) -> None:
        self.stats["reqs"] += 1
        now = self.base_clock() + self.skew_s
        t = msg.get("t")
        # A request that comes after the citizen already pressed, or after its time, is stale:
        # answering it would tie the NEXT citizen's press to this ticket.
        if t is not None and (
            now - t > self.ttl_s or (self.last_press_t is not None and self.last_press_t >= t)
        ):
            self.stats["stale_reqs"] += 1
            return
        ttl = min(int(msg["ttl"]), self.ttl_s)
        self._tick(self._ms())
        self.evaluator.request(msg["rq"], msg["tk"], msg["w"], ttl, self._ms())
        self.seen_rqs.add(msg["rq"])
        self.seen_rqs.add("tk:" + msg["tk"])
        self._req_signal.set()

    async def wait_request(self, rq: str, timeout: float) -> bool:
        """Wait (real seconds) until the rating request ``rq`` (or "tk:<ticket>") has arrived."""
        return await _wait_until(lambda: rq in self.seen_rqs, self._req_signal, timeout)

    async def wait_unpaused(self, timeout: float) -> bool:
        """Wait (real seconds) until the evaluator's config no longer says paused (离岗)."""
        return await _wait_until(lambda: not self.evaluator.paused, self._cfg_signal, timeout)

    def _answer_resend(self, boot: str, first: int, last: int) -> None:
        self.stats["resend_requests"] += 1
        # Walk the outbox, never the requested range (whatever its numbers).
        held = sorted(s for b, s in self.outbox.events if b == boot and first <= s <= last)
        for s in held:
            self._send_event(self.outbox.events[(boot, s)], resend=True)
        if boot == self.boot:
            last = min(last, self.seq)  # seqs not used yet are not lost
        # Contiguous runs of what we no longer hold: acked already or lost.
        runs: list[tuple[int, int]] = []
        nxt = first
        for s in [*held, last + 1]:
            if s > nxt and nxt <= last:
                runs.append((nxt, min(s - 1, last)))
            nxt = max(nxt, s + 1)
        for a, b in runs:
            self.stats["gone"] += 1
            if self.conn is not None and not self.conn.closed.is_set():
                with contextlib.suppress(MqttError, OSError):
                    self.conn.publish(
                        self.topic("gone"),
                        wire.encode(wire.gone(self.device, boot, a, b)),
                        1,
                        False,
                    )

    # ---- the link -------------------------------------------------------------------------

    def _status(self, state: str) -> bytes:
        return wire.encode(
            wire.status(
                self.device,
                self.boot,
                state,
                self.kind,
                FW_VERSION,
                self.now() if state == "online" else None,
            )
        )

    async def _connect(
        self, host: str, port: int, username: str | None, password: str | None
    ) -> MqttConnection:
        will = (self.topic("status"), self._status("offline"), 1, True)
        conn = await MqttConnection.open(
            host,
            port,
            f"{self.hall}-{self.device}",
            self._on_message,
            keepalive=20,
            will=will,
            username=username,
            password=password,
        )
        conn.publish(self.topic("status"), self._status("online"), 1, True)
        await conn.subscribe([(self.topic(ch), 1) for ch in DOWN_CHANNELS])
        self.stats["connects"] += 1
        return conn

    async def run(
        self,
        host: str,
        port: int,
        stop: asyncio.Event,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        """Stay connected until ``stop``: reconnect with backoff and jitter, resend the outbox on
        every connect and on a timer, heartbeat."""
        backoff = 0.2
        while not stop.is_set():
            if not self.wifi_up.is_set():
                await _first(stop.wait(), self.wifi_up.wait())
                continue
            try:
                self.conn = await self._connect(host, port, username, password)
            except (OSError, MqttError, TimeoutError, EOFError) as e:
                # EOFError: asyncio.IncompleteReadError, a broker closing mid-handshake.
                log.debug("%s: connect failed: %r", self.device, e)
                await _sleep_or(stop, backoff * (0.5 + self.rng.random()))
                backoff = min(backoff * 2, 3.0)
                continue
            backoff = 0.2
            self.connected.set()
            self.attempts.clear()
            for m in list(self.outbox.events.values()):
                self._send_event(m, resend=True)
            await self._serve(self.conn, stop)
            self.connected.clear()
            if stop.is_set():
                await self.conn.disconnect()
        self.conn = None

    async def _serve(self, conn: MqttConnection, stop: asyncio.Event) -> None:
        next_hb = 0.0
        while not stop.is_set() and not conn.closed.is_set():
            now = time.monotonic()
            if now >= next_hb:
                next_hb = now + self.heartbeat_s
                hb = wire.heartbeat(
                    self.device,
                    self.boot,
                    self.now(),
                    self._up(),
                    self.seq,
                    len(self.outbox),
                    None,
                    -55,
                    0,
                    self.evaluator.state if self.kind == "evaluator" else None,
                )
                with contextlib.suppress(MqttError, OSError):
                    conn.publish(self.topic("hb"), wire.encode(hb), 0, False)
            # Resend what is still unacked, backing off per event (resend_s, 2x, 4x … 30 s) so a
            # slow gateway is not buried under its own backlog.
            budget = RESEND_BUDGET
            for key, m in list(self.outbox.events.items()):
                n = self.attempts.get(key, 0)
                due = min(self.resend_s * (2**n), RESEND_MAX_S)
                if now - self.last_sent.get(key, 0.0) >= due:
                    self.attempts[key] = n + 1
                    self._send_event(m, resend=True)
                    budget -= 1
                    if budget <= 0:
                        break
            await conn.drain()
            await _first(
                stop.wait(), conn.closed.wait(), asyncio.sleep(0.25 + 0.1 * self.rng.random())
            )


async def _sleep_or(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _first(*aws: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


class Fleet:
    """Many device models on one asyncio loop, connected to one broker."""

    def __init__(
        self, host: str, port: int, username: str | None = None, password: str | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.devices: dict[str, DeviceModel] = {}
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.crashes = 0

    def add(self, model: DeviceModel) -> DeviceModel:
        self.devices[model.device] = model
        return model

    def start(self) -> None:
        for m in self.devices.values():
            self._tasks.append(asyncio.create_task(self._supervise(m)))

    async def _supervise(self, m: DeviceModel) -> None:
        """A model's link loop must never die quietly: log and start it again."""
        while not self.stop.is_set():
            try:
                await m.run(self.host, self.port, self.stop, self.username, self.password)
            except Exception:
                self.crashes += 1
                log.exception("%s: link loop crashed; restarting it", m.device)
                await _sleep_or(self.stop, 0.5)

    async def wait_connected(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(
            asyncio.gather(*(m.connected.wait() for m in self.devices.values())), timeout
        )

    def outbox_depth(self) -> int:
        return sum(len(m.outbox) for m in self.devices.values())

    def total(self, stat: str) -> int:
        return sum(m.stats[stat] for m in self.devices.values())

    async def close(self) -> None:
        self.stop.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)


async def _wait_until(done: Callable[[], bool], signal: asyncio.Event, timeout: float) -> bool:
    """Wait (real seconds) until ``done()``, re-checking whenever ``signal`` is set."""
    deadline = time.monotonic() + timeout
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        signal.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signal.wait(), left)
    return True
