"""The gateway's HTTP limits (issue #11, item 9 / report 7), on an in-process server.

Half-open and slow connections are closed and their threads released; connections beyond the
cap are refused at once; the body is capped; deep JSON answers 400; a body full of bad events
gives a small answer and small log lines. No wall-clock assertions: each test waits for its
condition with a generous deadline.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import httpx
import pytest

from gateway.http_api import MAX_BODY, MAX_REJECTED_ITEMS, QUEUE_PATH, GatewayHttp
from gateway.logs import JsonLines
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Inbound, Pipeline
from tests.gateway.conftest import QUEUE_TOKEN, wait_for

pytestmark = pytest.mark.timeout(120)
AUTH = {"Authorization": f"Bearer {QUEUE_TOKEN}"}


class CommitAtOnce:
    """A pipeline stand-in: every submitted event is 'committed' (new) at once."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def submit(self, item: Inbound) -> None:
        self.events.append(item.msg)
        if item.done is not None:
            item.done(True)


@pytest.fixture
def serve() -> Iterator[Callable[..., GatewayHttp]]:
    started: list[GatewayHttp] = []

    def start(**limits: Any) -> GatewayHttp:
        http = GatewayHttp(
            "127.0.0.1",
            0,
            QUEUE_TOKEN,
            cast(Pipeline, CommitAtOnce()),
            GatewayMetrics(),
            lambda: {"ok": True},
            **limits,
        )
        http.start()
        started.append(http)
        return http

    yield start
    for http in started:
        http.stop()


def url(http: GatewayHttp, path: str) -> str:
    return f"http://127.0.0.1:{http.port}{path}"


def idle_sockets(http: GatewayHttp, n: int) -> list[socket.socket]:
    """n connections that send nothing (half-open from the server's point of view)."""
    return [socket.create_connection(("127.0.0.1", http.port), timeout=10) for _ in range(n)]


def closed_by_server(s: socket.socket) -> bool:
    """Has the server closed this connection (after whatever answer it sent)?"""
    s.settimeout(0.01)
    try:
        while s.recv(4096):
            pass
        return True
    except TimeoutError:
        return False
    except OSError:  # reset
        return True


def test_half_open_connections_are_closed_and_their_threads_released(
    serve: Callable[..., GatewayHttp],
) -> None:
    http = serve(read_timeout_s=1.0, max_connections=32)
    assert httpx.get(url(http, "/health")).status_code == 200
    baseline = threading.active_count()
    socks = idle_sockets(http, 300)
    try:
        peak = max(threading.active_count() for _ in range(20))
        assert peak <= baseline + 32  # the cap: one thread per served connection, at most 32
        wait_for(lambda: all(closed_by_server(s) for s in socks), 60, "all 300 closed")
        wait_for(lambda: threading.active_count() <= baseline, 60, "threads back to baseline")
        assert httpx.get(url(http, "/health"), timeout=10).json() == {"ok": True}
    finally:
        for s in socks:
            s.close()


def test_a_slowloris_request_is_closed_at_the_read_deadline(
    serve: Callable[..., GatewayHttp],
) -> None:
    """A request trickling in a byte at a time is cut at the deadline, however slow each byte."""
    http = serve(read_timeout_s=1.0)
    s = socket.create_connection(("127.0.0.1", http.port), timeout=10)
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        deadline = time.monotonic() + 30  # generous: the server's own deadline is 1 s

        def still_open() -> bool:
            try:
                s.sendall(b"X")
            except OSError:
                return False
            return not closed_by_server(s)

        while still_open():
            assert time.monotonic() < deadline, "the slow request was never cut"
            time.sleep(0.1)
    finally:
        s.close()


def test_connections_beyond_the_cap_get_503_at_once_and_slots_are_released(
    serve: Callable[..., GatewayHttp],
) -> None:
    http = serve(read_timeout_s=60.0, max_connections=4)
    holders = idle_sockets(http, 4)
    try:
        r = httpx.get(url(http, "/health"), timeout=10)
        assert r.status_code == 503 and r.json()["detail"].startswith("too many connections")
    finally:
        for s in holders:
            s.close()
    wait_for(
        lambda: httpx.get(url(http, "/health"), timeout=10).status_code == 200,
        30,
        "a slot free again",
    )


def post_raw(http: GatewayHttp, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send a raw request; return (status, response body)."""
    with socket.create_connection(("127.0.0.1", http.port), timeout=30) as s:
        s.sendall(head + b"\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.split(b"\r\n\r\n", 1)[1]


def head(length: int | None) -> bytes:
    h = f"POST {QUEUE_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {QUEUE_TOKEN}\r\n"
    if length is not None:
        h += f"Content-Length: {length}\r\n"
    return h.encode()


def test_body_limits_answer_411_413_400_without_reading_a_too_large_body(
    serve: Callable[..., GatewayHttp],
) -> None:
    http = serve()
    status, body = post_raw(http, head(MAX_BODY + 1))  # the body is never sent: not read
    assert status == 413 and str(MAX_BODY) in json.loads(body)["detail"]
    assert post_raw(http, head(None))[0] == 411
    assert post_raw(http, head(0))[0] == 400
    status, body = post_raw(http, head(4), b"nope")
    assert status == 400 and "not JSON" in json.loads(body)["detail"]
    status, body = post_raw(http, head(2), b"\xff\xfe")
    assert status == 400 and json.loads(body)["detail"] == "body is not UTF-8"
    # Every 400 body is counted (docs/gateway.md): the length ones (0) as well as the rest (2).
    metrics = httpx.get(url(http, "/metrics"), timeout=10).text
    assert 'hallrate_gateway_malformed_total{source="http"} 3.0' in metrics


def test_deeply_nested_json_answers_400(serve: Callable[..., GatewayHttp]) -> None:
    http = serve()
    deep = b"[" * 200_000 + b"]" * 200_000
    r = httpx.post(url(http, QUEUE_PATH), content=deep, headers=AUTH, timeout=30)
    assert r.status_code == 400 and "nested deeper than 8" in r.json()["detail"]
    nine = {"events": [{"id": "q-1", "ev": "login", "t": 1795399500, "x": [[[[[[[1]]]]]]]}]}
    r = httpx.post(url(http, QUEUE_PATH), json=nine, headers=AUTH, timeout=30)
    assert r.status_code == 400 and "nested deeper than 8" in r.json()["detail"]
    assert httpx.get(url(http, "/health")).status_code == 200


def test_a_mebibyte_of_bad_events_gives_a_small_answer_and_small_log_lines(
    serve: Callable[..., GatewayHttp], caplog: pytest.LogCaptureFixture
) -> None:
    http = serve()
    events: list[dict[str, Any]] = [{"id": "q-long", "ev": "login", "t": 1, "w": "A" * 300_000}]
    events += [{"id": f"q-{i}", "ev": f"dance-{i}", "t": 1795399500} for i in range(12_000)]
    events.append({"id": "q-good", "ev": "pause", "t": 1795399500, "w": "A01"})
    body = json.dumps({"events": events}).encode()
    assert MAX_BODY // 2 < len(body) <= MAX_BODY
    caplog.set_level(logging.INFO, logger="hallrate.gateway")
    r = httpx.post(url(http, QUEUE_PATH), content=body, headers=AUTH, timeout=60)
    assert r.status_code == 200
    assert len(r.content) < 16 * 1024
    answer = r.json()
    assert answer["accepted"] == 1 and answer["rejected_total"] == 12_001
    assert len(answer["rejected"]) == MAX_REJECTED_ITEMS
    assert answer["rejected"][0]["index"] == 0 and answer["rejected"][1]["id"] == "q-0"
    assert sum(answer["rejected_by_reason"].values()) == 12_001
    assert answer["rejected_by_reason"]["field ev is not Q (docs/protocol.md, Bounds)"] == 12_000
    lines = [JsonLines().format(rec) for rec in caplog.records]
    assert any('"malformed_queue_events"' in line for line in lines)
    assert max(len(line) for line in lines) < 4 * 1024
