"""A small asyncio MQTT 3.1.1 client: one TCP connection per simulated device, many per loop.

Why not paho: a device needs its own connection (its own last will), and a thousand paho clients
mean a thousand threads or a hand-rolled select loop. This client does just what a device does:
CONNECT with a will, SUBSCRIBE, PUBLISH QoS 0/1 (PUBACKs are not awaited: the device's end-to-end
ack, not the broker's, is what lets it forget an event), PUBACK incoming QoS 1, PINGREQ, and
``abort()`` to vanish like a power cut (the broker then publishes the will).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable

Handler = Callable[[str, bytes], None]

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14


class MqttError(ConnectionError):
    """The broker refused us or the connection broke."""


def _str(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def _remaining(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(ptype: int, flags: int, body: bytes) -> bytes:
    return bytes([(ptype << 4) | flags]) + _remaining(len(body)) + body


def connect_packet(
    client_id: str,
    keepalive: int,
    clean: bool = True,
    will: tuple[str, bytes, int, bool] | None = None,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    flags = 0x02 if clean else 0
    payload = _str(client_id)
    if will is not None:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += _str(topic) + _str(msg)
    if username is not None:
        flags |= 0x80
        payload += _str(username)
    if password is not None:
        flags |= 0x40
        payload += _str(password)
    body = _str("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
    return packet(CONNECT, 0, body)


def publish_packet(
    topic: str, payload: bytes, qos: int, retain: bool, mid: int, dup: bool = False
) -> bytes:
    flags = (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = _str(topic) + (struct.pack("!H", mid) if qos else b"") + payload
    return packet(PUBLISH, flags, body)


class MqttConnection:
    """One open connection. Create with ``await MqttConnection.open(...)``."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_message: Handler,
        keepalive: int,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.on_message = on_message
        self.keepalive = keepalive
        self._mid = 0
        self._suback: dict[int, asyncio.Future[bytes]] = {}
        self.closed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        client_id: str,
        on_message: Handler,
        keepalive: int = 30,
        will: tuple[str, bytes, int, bool] | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 5.0,
    ) -> MqttConnection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        conn = cls(reader, writer, on_message, keepalive)
        try:
            writer.write(connect_packet(client_id, keepalive, True, will, username, password))
            ptype, _flags, body = await asyncio.wait_for(conn._read_packet(), timeout)
            if ptype != CONNACK or len(body) < 2 or body[1] != 0:
                raise MqttError(f"connect refused: type {ptype} body {body!r}")
        except BaseException:
            writer.transport.abort()
            raise
        conn._tasks.append(asyncio.create_task(conn._rx()))
        conn._tasks.append(asyncio.create_task(conn._ping()))
        return conn

    def _next_mid(self) -> int:
        self._mid = self._mid % 65535 + 1
        return self._mid

    async def _read_packet(self) -> tuple[int, int, bytes]:
        head = await self.reader.readexactly(1)
        mult, n = 1, 0
        while True:
            b = (await self.reader.readexactly(1))[0]
            n += (b & 0x7F) * mult
            if not b & 0x80:
                break
            mult *= 128
        body = await self.reader.readexactly(n) if n else b""
        return head[0] >> 4, head[0] & 0x0F, body

    async def _rx(self) -> None:
        try:
            while True:
                ptype, flags, body = await self._read_packet()
                if ptype == PUBLISH:
                    qos = (flags >> 1) & 3
                    tlen = struct.unpack("!H", body[:2])[0]
                    topic = body[2 : 2 + tlen].decode()
                    pos = 2 + tlen
                    if qos:
                        mid = struct.unpack("!H", body[pos : pos + 2])[0]
                        pos += 2
                        self.writer.write(packet(PUBACK, 0, struct.pack("!H", mid)))
                    try:
                        self.on_message(topic, body[pos:])
                    except Exception:  # a handler bug must not kill the link
                        import logging

                        logging.getLogger(__name__).exception("message handler failed")
                elif ptype == SUBACK:
                    mid = struct.unpack("!H", body[:2])[0]
                    fut = self._suback.pop(mid, None)
                    if fut is not None and not fut.done():
                        fut.set_result(body[2:])
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._mark_closed()

    async def _ping(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while not self.closed.is_set():
                await asyncio.sleep(max(1.0, self.keepalive / 2))
                self.writer.write(packet(PINGREQ, 0, b""))

    def _mark_closed(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            for fut in self._suback.values():
                if not fut.done():
                    fut.set_exception(MqttError("connection closed"))
            with contextlib.suppress(Exception):
                self.writer.transport.abort()

    async def subscribe(self, filters: list[tuple[str, int]], timeout: float = 5.0) -> None:
        mid = self._next_mid()
        body = struct.pack("!H", mid) + b"".join(_str(t) + bytes([q]) for t, q in filters)
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._suback[mid] = fut
        self.writer.write(packet(SUBSCRIBE, 2, body))
        granted = await asyncio.wait_for(fut, timeout)
        if any(g == 0x80 for g in granted):
            raise MqttError(f"subscription refused: {filters}")

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        if self.closed.is_set():
            raise MqttError("connection closed")
        mid = self._next_mid() if qos else 0
        self.writer.write(publish_packet(topic, payload, qos, retain, mid))

    def write_raw(self, data: bytes) -> None:
        """Bytes as they are (for malformed-traffic faults)."""
        self.writer.write(data)

    async def drain(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.drain()

    def abort(self) -> None:
        """Vanish without DISCONNECT, like a power cut: the broker publishes the will."""
        for t in self._tasks:
            t.cancel()
        self._mark_closed()

    async def disconnect(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            self.writer.write(packet(DISCONNECT, 0, b""))
            await self.writer.drain()
        self.abort()
