"""Request limits (docs/api.md, *Limits*): body size per route, JSON depth, and how many
expensive requests run at once.

A pure ASGI middleware, in front of every route:

- **Body size.** A request whose ``Content-Length`` is over its route's cap is answered 413
  before a byte of its body is read. A body without a length (chunked) is read as it arrives,
  and answered 413 as soon as it passes the cap; at most the cap is ever held in memory. Only a
  body within the cap reaches the app, which then never sees a partial one.
- **JSON depth.** A body (other than a form) nested deeper than the limit is answered 400
  before any parser sees it: the standard parser recurses (1,000 levels was a 500).
- **Expensive requests.** Ingest batches and score computations (``/scores``, ``/rankings``,
  ``/trends``, ``/heatmap``, ``/lobby/{hall}``, ``/reports/…``)
  each get a number of slots; a request that finds them all taken waits up to a bound, then is
  answered 503 with ``Retry-After``. The body is read before a slot is taken, so a slow
  uploader holds none.

Limits are per server process: with several workers, each has its own slots.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import accumulate

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

INGEST_PREFIX = "/api/v1/ingest/"
SCORE_PATHS = ("/api/v1/scores", "/api/v1/rankings", "/api/v1/trends", "/api/v1/heatmap")
LOBBY_PREFIX = "/api/v1/lobby/"  # the lobby screen's data: scores and rankings too
REPORTS_PREFIX = "/api/v1/reports/"  # publications: scores and rankings, then XLSX or PDF
# File uploads (a spreadsheet, not JSON): the ingest body cap, no JSON depth check.
UPLOAD_PATHS = ("/api/v1/callbacks/results",)
FORM_TYPES = (b"application/x-www-form-urlencoded", b"multipart/form-data")

_NOT_SYNTAX = bytes(b for b in range(256) if b not in b'[]{}"')
_DELTA = [0] * 256
for _open, _close in (b"[]", b"{}"):
    _DELTA[_open], _DELTA[_close] = 1, -1


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings do not
    count), computed without parsing: a few C-speed passes, no recursion, any size.

    Escaped backslashes, then escaped quotes are dropped, then all but brackets and quotes,
    so the remaining quotes pair up and every other piece between them is a string's content.
    About 2 ms for a 1,000-record ingest batch."""
    if b"[" not in body and b"{" not in body:
        return 0
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    syntax = unescaped.translate(None, _NOT_SYNTAX)
    # Two quotes side by side are an empty string, or the end of one string and the start of
    # the next with no bracket between: dropping them keeps every string's brackets quoted.
    syntax = syntax.replace(b'""', b"")
    brackets = b"".join(syntax.split(b'"')[::2]) if b'"' in syntax else syntax
    return max(accumulate(map(_DELTA.__getitem__, brackets)), default=0)


class Busy(Exception):
    """All slots of a class are taken and stayed taken for the whole wait."""


class Gate:
    """At most ``limit`` requests of one class at a time (0: no limit); a request waits at
    most ``wait_s`` seconds for a slot (0: not at all), then is refused with ``Busy``."""

    def __init__(self, limit: int, wait_s: float) -> None:
        self.limit, self.wait_s = limit, wait_s
        self._sem = asyncio.Semaphore(limit) if limit > 0 else None

    @property
    def free(self) -> int | None:
        return None if self._sem is None else self._sem._value

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        sem = self._sem
        if sem is None:
            yield
            return
        if sem.locked():
            if self.wait_s <= 0:
                raise Busy
            try:
                await asyncio.wait_for(sem.acquire(), self.wait_s)
            except TimeoutError:
                raise Busy from None
        else:
            await sem.acquire()
        try:
            yield
        finally:
            sem.release()


@dataclass(frozen=True)
class Limits:
    body_bytes: int
    ingest_body_bytes: int
    json_depth: int
    concurrent_ingest: int
    concurrent_scores: int
    busy_wait_s: float


class RequestLimits:
    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.gates = {
            "ingest": Gate(limits.concurrent_ingest, limits.busy_wait_s),
            "scores": Gate(limits.concurrent_scores, limits.busy_wait_s),
        }

    def body_cap(self, path: str) -> int:
        if path.startswith(INGEST_PREFIX) or path.rstrip("/") in UPLOAD_PATHS:
            return self.limits.ingest_body_bytes
        return self.limits.body_bytes

    def gate(self, path: str) -> Gate | None:
        if path.startswith(INGEST_PREFIX):
            return self.gates["ingest"]
        if path.rstrip("/") in SCORE_PATHS or path.startswith((LOBBY_PREFIX, REPORTS_PREFIX)):
            return self.gates["scores"]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        cap = self.body_cap(path)
        headers = dict(scope["headers"])
        too_big = f"request body too large: this route takes at most {cap} bytes"
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            await _answer(send, 413, too_big, close=True)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away before its body was complete
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await _answer(send, 413, too_big, close=True)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        upload = path.rstrip("/") in UPLOAD_PATHS
        if (
            body
            and not upload
            and ctype not in FORM_TYPES
            and json_depth(body) > self.limits.json_depth
        ):
            await _answer(send, 400, f"JSON nested deeper than {self.limits.json_depth} levels")
            return
        replay = _replay(body, receive)
        gate = self.gate(path)
        if gate is None:
            await self.app(scope, replay, send)
            return
        try:
            async with gate.slot():
                await self.app(scope, replay, send)
        except Busy:
            await _answer(
                send, 503, "server busy with other requests of this kind; retry", retry_after=1
            )


def _replay(body: bytes, receive: Receive) -> Receive:
    """The whole body in one message, then the client's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _answer(
    send: Send, status: int, detail: str, close: bool = False, retry_after: int | None = None
) -> None:
    content = orjson.dumps({"detail": detail})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    if close:  # the unread rest of the body makes the connection unusable
        headers.append((b"connection", b"close"))
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
