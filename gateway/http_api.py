"""The gateway's small HTTP app: queue-event push (bearer token), /metrics and /status.

stdlib http.server in a thread: three routes do not justify an ASGI stack in the hall box.
A pushed event is answered only after it is committed to the journal.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from firmware import wire
from gateway.logs import event
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Inbound, Pipeline

log = logging.getLogger("hallrate.gateway.http")

QUEUE_PATH = "/api/v1/queue/events"
MAX_BODY = 1 << 20
COMMIT_TIMEOUT_S = 15.0


def parse_queue_events(body: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """JSON body → (valid wire queue events, rejections). Accepts one event, a list, or
    {"events": [...]}; "v" and "k" may be left out."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"body is not JSON: {e}") from None
    if isinstance(data, dict) and "events" in data:
        data = data["events"]
    items = data if isinstance(data, list) else [data]
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            bad.append({"index": i, "reason": "event is not a JSON object"})
            continue
        msg = {"v": wire.PROTOCOL_VERSION, "k": "queue", **it}
        try:
            wire.validate(msg)
        except wire.WireError as e:
            bad.append({"index": i, "id": it.get("id"), "reason": str(e)})
            continue
        good.append(msg)
    return good, bad


class GatewayHttp:
    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        pipeline: Pipeline,
        metrics: GatewayMetrics,
        status: Callable[[], dict[str, Any]],
    ) -> None:
        self.token = token
        self.pipeline = pipeline
        self.metrics = metrics
        self.status = status
        app = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "hallrate-gateway"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                app.get(self)

            def do_POST(self) -> None:
                app.post(self)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="gw-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- routes ---------------------------------------------------------------------------

    def get(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        if path == "/metrics":
            _send(h, 200, self.metrics.render(), "text/plain; version=0.0.4")
        elif path == "/status":
            _json(h, 200, self.status())
        elif path == "/health":
            _json(h, 200, {"ok": True})
        else:
            _json(h, 404, {"detail": "not found"})

    def post(self, h: BaseHTTPRequestHandler) -> None:
        if h.path.split("?", 1)[0] != QUEUE_PATH:
            _json(h, 404, {"detail": "not found"})
            return
        auth = h.headers.get("Authorization", "")
        expected = f"Bearer {self.token}".encode()
        if not self.token or not hmac.compare_digest(auth.encode(), expected):
            _json(h, 401, {"detail": "missing or wrong bearer token"})
            return
        try:
            length = int(h.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            _json(h, 400, {"detail": "a JSON body of at most 1 MiB is required"})
            return
        try:
            good, bad = parse_queue_events(h.rfile.read(length))
        except ValueError as e:
            self.metrics.malformed.labels("http").inc()
            _json(h, 400, {"detail": str(e)})
            return
        if bad:
            self.metrics.malformed.labels("http").inc(len(bad))
            event(log, "malformed_queue_events", logging.WARNING, rejected=bad)
        results: list[bool] = []
        done = threading.Event()
        lock = threading.Lock()

        def committed(new: bool) -> None:
            with lock:
                results.append(new)
                if len(results) == len(good):
                    done.set()

        for msg in good:
            self.pipeline.submit(Inbound("queue", msg, "http", done=committed))
        if good and not done.wait(COMMIT_TIMEOUT_S):
            _json(h, 503, {"detail": "journal did not commit in time; resend"})
            return
        _json(
            h,
            200,
            {"accepted": sum(results), "duplicates": len(results) - sum(results), "rejected": bad},
        )


def _send(h: BaseHTTPRequestHandler, code: int, body: bytes, ctype: str) -> None:
    h.send_response(code)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def _json(h: BaseHTTPRequestHandler, code: int, obj: Any) -> None:
    _send(h, code, json.dumps(obj, ensure_ascii=False).encode(), "application/json")
