"""Gateway throughput: votes/s broker → gateway → journal → server, next to a floor measured in the
same run (a paho QoS 1 publisher → the same broker → a paho subscriber), with 1,000 simulated
devices connected to the broker and subscribed to their downlinks.

    .venv/bin/python bench/gateway_throughput.py [--broker mosquitto|amqtt|both] [--votes 10000]

The gateway and the server run as separate processes (`python -m gateway`, `server.serve`),
as in a hall. Prints a table; docs/benchmarks.md ("Gateway") records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from firmware import wire  # noqa: E402
from tests.support.brokers import Amqtt, Broker, Mosquitto  # noqa: E402
from tests.support.ports import free_port, wait_port  # noqa: E402
from tests.support.procs import Proc  # noqa: E402

HALL = "H1"
API_KEY = "bench-gateway-key-0123456789"
N_DEVICES = 1000
RESEND_S = 10.0  # the device model's resend timer for events not yet acked end to end


# ---- 1,000 idle devices: a minimal asyncio MQTT 3.1.1 client per connection -----------------


def _remaining(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _remaining(len(body)) + body


class IdleDevices:
    """N connections that subscribe to their downlink topics, PUBACK what they get, count acks."""

    def __init__(self, host: str, port: int, devices: list[str]) -> None:
        self.host, self.port, self.devices = host, port, devices
        self.connected = 0
        self.acks = 0
        self.acked: dict[str, set[int]] = {}  # device → seqs covered by the gateway's e2e acks
        self.received: dict[str, int] = {}
        self.errors: list[BaseException] = []
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()
        # Keep a strong reference: asyncio holds tasks weakly, and a collected task stops reading.
        self.future = asyncio.run_coroutine_threadsafe(self._all(), self.loop)
        if not self.ready.wait(120):
            raise RuntimeError(f"only {self.connected} of {len(self.devices)} devices connected")

    async def _all(self) -> None:
        sem = asyncio.Semaphore(100)

        async def one(dev: str) -> None:
            async with sem:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                body = _str("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 240) + _str(dev)
                writer.write(_packet(0x10, body))
                await writer.drain()
                connack = await reader.readexactly(4)
                if connack[3] != 0:
                    raise RuntimeError(f"{dev}: CONNACK return code {connack[3]}")
                subs = b"".join(
                    _str(wire.device_topic(HALL, dev, ch)) + b"\x01"
                    for ch in ("cfg", "req", "ack", "resend")
                )
                writer.write(_packet(0x82, struct.pack("!H", 1) + subs))
                await writer.drain()
                self.connected += 1
                if self.connected == len(self.devices):
                    self.ready.set()
            try:
                await self._read(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError) as e:
                self.errors.append(e)
            except Exception as e:
                self.errors.append(e)
                raise

        results = await asyncio.gather(*(one(d) for d in self.devices), return_exceptions=True)
        self.errors = [r for r in results if isinstance(r, BaseException)]

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            first = (await reader.readexactly(1))[0]
            mult, length = 1, 0
            while True:
                b = (await reader.readexactly(1))[0]
                length += (b & 0x7F) * mult
                mult *= 128
                if not b & 0x80:
                    break
            body = await reader.readexactly(length) if length else b""
            if first >> 4 == 3:  # PUBLISH
                tlen = struct.unpack("!H", body[:2])[0]
                topic = body[2 : 2 + tlen].decode()
                ch = topic.rsplit("/", 1)[-1]
                self.received[ch] = self.received.get(ch, 0) + 1
                qos = (first >> 1) & 3
                if ch == "ack":
                    self.acks += 1
                    m = json.loads(body[2 + tlen + (2 if qos else 0) :])
                    done = self.acked.setdefault(m["d"], set())
                    done.update(range(1, m["n"] + 1))
                    done.update(m.get("x", ()))
                if qos:
                    pid = body[2 + tlen : 4 + tlen]
                    writer.write(_packet(0x40, pid))


# ---- the floor: paho QoS 1 publisher → broker → paho subscriber ------------------------------


def vote_payloads(devices: list[str], n: int, boot: str) -> list[tuple[str, bytes]]:
    now = int(time.time())
    out = []
    for i in range(n):
        dev = devices[i % len(devices)]
        seq = i // len(devices) + 1
        m = wire.vote(dev, boot, seq, wire.LEVELS[i % 5], now, seq * 1000)
        out.append((wire.device_topic(HALL, dev, "vote"), wire.encode(m)))
    return out


def publish_all(broker: Broker, payloads: list[tuple[str, bytes]], client_id: str) -> float:
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    pub.max_inflight_messages_set(100)
    pub.max_queued_messages_set(0)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    t0 = time.perf_counter()
    infos = [pub.publish(t, p, qos=1) for t, p in payloads]
    for info in infos:
        info.wait_for_publish(120)
    dt = time.perf_counter() - t0
    pub.loop_stop()
    pub.disconnect()
    return dt


def measure_floor(broker: Broker, payloads: list[tuple[str, bytes]]) -> float:
    got = 0
    done = threading.Event()
    t_last = [0.0]

    def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        nonlocal got
        got += 1
        if got == len(payloads):
            t_last[0] = time.perf_counter()
            done.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="floor-sub")
    sub.on_message = on_message
    sub.connect(broker.host, broker.port)
    sub.subscribe(f"hr/v1/{HALL}/floor/#", qos=1)
    sub.loop_start()
    time.sleep(0.5)
    floor_payloads = [(t.replace("/dev/", "/floor/"), p) for t, p in payloads]
    t0 = time.perf_counter()
    publish_all(broker, floor_payloads, "floor-pub")
    if not done.wait(300):
        raise RuntimeError(f"floor subscriber got {got} of {len(payloads)}")
    sub.loop_stop()
    sub.disconnect()
    return len(payloads) / (t_last[0] - t0)


# ---- the gateway path ------------------------------------------------------------------------


def count(db: Path, sql: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute(sql).fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return -1  # busy or not created yet: ask again


def write_hall_toml(
    path: Path, broker: Broker, server_url: str, devices: list[str], journal: Path, http_port: int
) -> None:
    lines = [
        f'hall = "{HALL}"',
        f'[broker]\nurl = "{broker.url}"\nclient_id = "bench-gw"',
        f'[server]\nurl = "{server_url}"\napi_key = "{API_KEY}"\ngateway_id = "gw-{HALL}"',
        f'[journal]\npath = "{journal}"',
        f'[http]\nport = {http_port}\nqueue_token = "bench-queue-token"',
        "[forward]\nbatch_size = 500\ninterval_s = 0.05\nbackoff_initial_s = 0.1",
        "[gaps]\ngrace_s = 30",
    ]
    for i, d in enumerate(devices):
        lines.append(f'[devices.{d}]\nkind = "evaluator"\nwindow = "W{i:04d}"')
    path.write_text("\n".join(lines) + "\n")


def measure_gateway(
    broker: Broker,
    payloads: list[tuple[str, bytes]],
    devices: list[str],
    work: Path,
    idle: IdleDevices,
) -> dict[str, float]:
    keys = [(m["d"], m["s"]) for m in (json.loads(p) for _, p in payloads)]
    srv_dir = work / "server"
    srv_dir.mkdir()
    srv_port = free_port()
    server = Proc(
        "server",
        [
            sys.executable,
            "-m",
            "server.serve",
            "--port",
            str(srv_port),
            "--migrate",
            "--log-level",
            "warning",
        ],
        srv_dir,
        env={
            "HALLRATE_DATA_DIR": str(srv_dir),
            "HALLRATE_BOOTSTRAP_GATEWAY": f"gw-{HALL}:{API_KEY}:{HALL}",
            # The server creates no window from records: register the devices' windows.
            "HALLRATE_BOOTSTRAP_WINDOWS": ",".join(f"W{i:04d}" for i in range(len(devices))),
        },
    ).start()
    wait_port("127.0.0.1", srv_port, 60)
    journal = work / "journal.db"
    http_port = free_port()
    toml = work / "hall.toml"
    write_hall_toml(toml, broker, f"http://127.0.0.1:{srv_port}", devices, journal, http_port)
    gw = Proc(
        "gateway",
        [sys.executable, "-m", "gateway", "--config", str(toml), "--log-level", "WARNING"],
        work,
    ).start()
    try:
        wait_port("127.0.0.1", http_port, 60)
        time.sleep(2.0)  # configs published, session subscribed
        n = len(payloads)
        server_db = srv_dir / "hallrate.db"
        t0 = time.perf_counter()
        publish_all(broker, payloads, "bench-pub")
        t_pub = time.perf_counter() - t0
        t_journal = t_server = None
        deadline = time.monotonic() + 600
        next_resend = time.monotonic() + RESEND_S
        resent = 0
        while time.monotonic() < deadline and t_server is None:
            if t_journal is None and time.monotonic() > next_resend:
                # Like the firmware: what the gateway has not acked end to end is sent again.
                missing = [
                    (t, p)
                    for (t, p), (d, s) in zip(payloads, keys, strict=True)
                    if s not in idle.acked.get(d, ())
                ]
                if missing:
                    resent += len(missing)
                    publish_all(broker, missing, "bench-pub")
                next_resend = time.monotonic() + RESEND_S
            if t_journal is None and count(journal, "SELECT count(*) FROM device_events") >= n:
                t_journal = time.perf_counter() - t0
            if count(server_db, "SELECT count(*) FROM evaluations") >= n:
                t_server = time.perf_counter() - t0
                t_journal = t_journal or t_server
            time.sleep(0.05)
        if t_server is None or t_journal is None:
            raise RuntimeError(
                f"gateway path did not finish: journal "
                f"{count(journal, 'SELECT count(*) FROM device_events')}, server "
                f"{count(server_db, 'SELECT count(*) FROM evaluations')} of {n}\n"
                + gw.log()[-3000:]
            )
        return {
            "resent": resent,
            "publish_s": t_pub,
            "journal_s": t_journal,
            "server_s": t_server,
            "journal_rate": n / t_journal,
            "server_rate": n / t_server,
        }
    finally:
        gw.stop()
        server.stop()


def run(kind: str, n_votes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hallrate-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        broker: Broker = (
            Mosquitto(work / "mosquitto") if kind == "mosquitto" else Amqtt(work / "amqtt")
        )
        broker.start()
        try:
            devices = [f"EV-{i:04d}" for i in range(N_DEVICES)]
            idle = IdleDevices(broker.host, broker.port, devices)
            idle.start()
            payloads = vote_payloads(devices, n_votes, "bench01")
            floor = measure_floor(broker, payloads)
            gw = measure_gateway(broker, payloads, devices, work, idle)
            time.sleep(1.0)
            return {
                "broker": kind,
                "votes": n_votes,
                "devices_connected": idle.connected,
                "e2e_acks_seen_by_devices": idle.acks,
                "floor_msgs_per_s": floor,
                **gw,
                "ratio": gw["server_rate"] / floor,
            }
        finally:
            broker.stop()


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))  # run the finally blocks: stop children
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", choices=("mosquitto", "amqtt", "both"), default="both")
    ap.add_argument("--votes", type=int, default=10000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    kinds = ["mosquitto", "amqtt"] if args.broker == "both" else [args.broker]
    results = [run(k, args.votes) for k in kinds]
    if args.json:
        print(json.dumps(results, indent=2))
    print(
        f"{'broker':<10} {'votes':>6} {'devices':>7} {'floor/s':>9} {'journal/s':>10} "
        f"{'server/s':>9} {'ratio':>6} {'resent':>6}  goal: ratio >= 0.50"
    )
    for r in results:
        print(
            f"{r['broker']:<10} {r['votes']:>6} {r['devices_connected']:>7} "
            f"{r['floor_msgs_per_s']:>9.0f} {r['journal_rate']:>10.0f} {r['server_rate']:>9.0f} "
            f"{r['ratio']:>6.2f} {r['resent']:>6}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
