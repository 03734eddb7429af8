"""The limits of the gateway's HTTP server: read deadline, connection cap, JSON depth.

docs/gateway.md ("Limits and error answers") states each number below; keep them in step.
- A request (line, headers and body) must arrive within REQUEST_READ_TIMEOUT_S of the
  connection's accept, however slowly its bytes trickle in; else the connection is closed
  without an answer. Answers are written with a WRITE_TIMEOUT_S socket timeout.
- At most MAX_CONNECTIONS connections are served at once, one thread each. A connection
  beyond the cap gets `503` at once and is closed; no thread is started for it.
- JSON nesting deeper than MAX_JSON_DEPTH is refused (never a RecursionError).
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gateway.logs import event

log = logging.getLogger("hallrate.gateway.http")

REQUEST_READ_TIMEOUT_S = 10.0
WRITE_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 32
LISTEN_BACKLOG = 64
MAX_JSON_DEPTH = 8
LINGER_S = 2.0
LINGER_BYTES = 4 << 20

_BUSY_BODY = b'{"detail": "too many connections; try again"}'
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


class _DeadlineReader(io.RawIOBase):
    """A socket reader whose every recv waits at most until one fixed deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request not received within the read deadline")
        self.sock.settimeout(left)
        return self.sock.recv_into(b)


class LimitedHandler(BaseHTTPRequestHandler):
    """A handler whose request must arrive before a deadline set at accept time."""

    read_timeout_s = REQUEST_READ_TIMEOUT_S
    linger = False  # answered without reading the body: drain a little before closing

    def setup(self) -> None:
        super().setup()  # makes rfile/wfile from the socket; rfile is replaced below
        self.rfile.close()
        sock: socket.socket = self.connection
        deadline = time.monotonic() + self.read_timeout_s
        self.rfile = io.BufferedReader(_DeadlineReader(sock, deadline), 65536)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def finish(self) -> None:
        super().finish()
        if self.linger:
            _lingering_close(self.connection)

    def writing(self) -> None:
        """Switch the socket from the read deadline to the write timeout (before answering)."""
        self.connection.settimeout(WRITE_TIMEOUT_S)


def _lingering_close(sock: socket.socket) -> None:
    """Half-close, then discard what the client still sends for at most LINGER_S and
    LINGER_BYTES, so that it reads our answer instead of a connection reset."""
    deadline = time.monotonic() + LINGER_S
    seen = 0
    try:
        sock.shutdown(socket.SHUT_WR)
        while seen < LINGER_BYTES:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                break
            seen += len(chunk)
    except OSError:
        pass


class LimitedServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a cap on concurrent connections (threads)."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        addr: tuple[str, int],
        handler: type[LimitedHandler],
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.slots = threading.BoundedSemaphore(max_connections)
        self.refused = 0
        super().__init__(addr, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.refused += 1
            try:
                request.settimeout(0.5)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)  # starts the thread
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke (reset, timeout on write): one short log line, no traceback."""
        exc = sys.exc_info()[1]
        event(log, "http_connection_error", logging.WARNING, error=repr(exc)[:200])


class JsonTooDeep(ValueError):
    pass


def loads_bounded(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """UTF-8 JSON → value, nesting at most max_depth arrays/objects. Raises ValueError with a
    short reason (JsonTooDeep for the nesting)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except RecursionError:
        raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise ValueError("body is not UTF-8") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"body is not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    if json_depth(data, max_depth) > max_depth:
        raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels")
    return data


def json_depth(data: Any, stop_above: int) -> int:
    """Nesting depth of arrays/objects (a scalar is 0), iterative; stops once above stop_above."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            children: Any = v.values()
        elif isinstance(v, list):
            children = v
        else:
            continue
        d += 1
        if d > deepest:
            deepest = d
            if deepest > stop_above:
                return deepest
        stack.extend((c, d) for c in children)
    return deepest
