"""Send the hall model's queue events to the gateway, as the hall's queue-calling system would:
through its HTTP push endpoint (retrying until the journal has committed them), or as checksummed
lines over a serial port (docs/serial-protocol.md), waiting for $ACK and resending otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from firmware import wire_gw
from simulator.hall_model import Event

QUEUE_PATH = "/api/v1/queue/events"
BATCH_MAX = 200  # sends (each one window's events) per POST


def wire_event(e: Event) -> dict[str, Any]:
    assert e.id is not None and e.ev is not None
    return wire_gw.queue_event(
        e.id,
        e.ev,
        e.t,
        window=e.window,
        ticket=e.ticket,
        staff=e.staff,
        matter=e.matter,
        src="sim",
        phone=e.phone,
    )


class HttpQueueDriver:
    """POST /api/v1/queue/events with the bearer token; a 200 means committed to the journal."""

    def __init__(
        self,
        base_url: str,
        token: str,
        duplicate_rate: float = 0.0,
        malformed_rate: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + QUEUE_PATH
        self.headers = {"Authorization": f"Bearer {token}"}
        self.client = httpx.AsyncClient(timeout=10.0)
        self.duplicate_rate = duplicate_rate
        self.malformed_rate = malformed_rate
        self.rng = rng or random.Random(0)
        self.stats = {
            "sent": 0,
            "retries": 0,
            "duplicates_sent": 0,
            "malformed_sent": 0,
            "duplicates_seen": 0,
        }
        # Windows send concurrently; events waiting at the same moment share one POST.
        self._pending: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._batcher: asyncio.Task[None] | None = None
        self.posts = 0
        # Rating links from the answers ([online] enabled): (ticket, ticket day) -> link.
        self.links: dict[tuple[str, str], str] = {}
        self.on_link: Callable[[str, str, str], None] | None = None  # (ticket, day, url)

    async def send(self, events: list[Event]) -> None:
        """Deliver events; returns once the gateway has committed them to its journal."""
        body = [{k: v for k, v in wire_event(e).items() if k not in ("v", "k")} for e in events]
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((body, fut))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._run_batches())
        await fut

    async def _run_batches(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:BATCH_MAX], self._pending[BATCH_MAX:]
            body = [item for b, _ in batch for item in b]
            try:
                await self._deliver(body)
            except Exception as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)
            await asyncio.sleep(0)

    async def _deliver(self, body: list[dict[str, Any]]) -> None:
        await self._post(body)
        self.posts += 1
        self.stats["sent"] += len(body)
        if self.duplicate_rate and self.rng.random() < self.duplicate_rate:
            await self._post(body)  # the queue system delivers the same events again
            self.stats["duplicates_sent"] += len(body)
        if self.malformed_rate and self.rng.random() < self.malformed_rate:
            await self.send_malformed()

    async def send_malformed(self) -> None:
        bad = self.rng.choice(
            [
                b"{not json",
                b'[{"id":"x","ev":"teleport","t":1}]',
                b'{"id":"y","ev":"finish"}',
                b'[{"ev":"call","t":-5,"w":"A01"}]',
            ]
        )
        with contextlib.suppress(httpx.HTTPError):
            await self.client.post(
                self.url, content=bad, headers={**self.headers, "Content-Type": "application/json"}
            )
        self.stats["malformed_sent"] += 1

    async def _post(self, body: list[dict[str, Any]]) -> None:
        delay = 0.1
        while True:
            try:
                r = await self.client.post(self.url, json=body, headers=self.headers)
                if r.status_code == 200:
                    answer = r.json()
                    self.stats["duplicates_seen"] += int(answer.get("duplicates", 0))
                    for link in answer.get("links", []):
                        self.links[(link["ticket"], link["ticket_day"])] = link["rating_url"]
                        if self.on_link is not None:
                            self.on_link(link["ticket"], link["ticket_day"], link["rating_url"])
                    return
                if r.status_code in (400, 401, 403, 422):
                    raise RuntimeError(f"gateway refused queue events: {r.status_code} {r.text}")
            except (httpx.HTTPError, ValueError):
                pass
            self.stats["retries"] += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def close(self) -> None:
        if self._batcher is not None:
            self._batcher.cancel()
        await self.client.aclose()


class SerialQueueDriver:
    """Write $EVENT,...*hh lines to a serial port (e.g. one end of a socat pty pair) and wait for
    the gateway's $ACK,n; resend on $NAK or silence. Noise lines can be mixed in."""

    def __init__(
        self,
        port: str,
        tz: str,
        noise_rate: float = 0.0,
        rng: random.Random | None = None,
        baudrate: int = 115200,
    ) -> None:
        import serial

        self.ser = serial.Serial(port, baudrate, timeout=0.05)
        self.tz = ZoneInfo(tz)
        self.noise_rate = noise_rate
        self.rng = rng or random.Random(0)
        self.n = 0
        self.lock = asyncio.Lock()
        self.stats = {"sent": 0, "retries": 0, "noise_sent": 0, "naks": 0}

    def line_for(self, e: Event, n: int) -> str:
        from gateway.queue_serial import format_line

        assert e.ev is not None and e.window is not None
        fields: list[str] = [e.window]
        if e.ev in ("call", "recall", "finish", "transfer"):
            assert e.ticket is not None
            fields.append(e.ticket)
        if e.ev == "login":
            assert e.staff is not None
            fields.append(e.staff)
        opts: dict[str, str | int] = {
            "N": n,
            "T": datetime.fromtimestamp(e.t, self.tz).strftime("%Y%m%d%H%M%S"),
        }
        if e.matter:
            opts["M"] = e.matter
        if e.phone:
            opts["P"] = e.phone
        if e.staff and e.ev not in ("login",):
            opts["S"] = e.staff
        return format_line(e.ev.upper(), *fields, **opts)

    async def send(self, events: list[Event]) -> None:
        async with self.lock:
            for e in events:
                self.n += 1
                await self._send_one(self.line_for(e, self.n), self.n)
                self.stats["sent"] += 1

    async def _send_one(self, line: str, n: int) -> None:
        while True:
            if self.noise_rate and self.rng.random() < self.noise_rate:
                noise = self.rng.choice(
                    [
                        b"\x00\xff garbage\r\n",
                        b"$FINISH,A01*00\r\n",
                        b"$$$\r\n",
                        b"$CALL,A01,A001,N=1*ZZ\r\n",
                    ]
                )
                await asyncio.to_thread(self.ser.write, noise)
                self.stats["noise_sent"] += 1
            await asyncio.to_thread(self.ser.write, line.encode("ascii"))
            if await self._wait_ack(n):
                return
            self.stats["retries"] += 1

    async def _wait_ack(self, n: int, timeout: float = 2.0) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        buf = b""
        while loop.time() < deadline:
            chunk = await asyncio.to_thread(self.ser.read, 256)
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                text = raw.decode("ascii", "replace").strip()
                if text.startswith(f"$ACK,{n}*"):
                    return True
                if text.startswith("$NAK"):
                    self.stats["naks"] += 1
        return False

    async def close(self) -> None:
        self.ser.close()
