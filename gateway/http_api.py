"""The gateway's small HTTP app: queue-event push (bearer token), rating links (bearer token,
gateway/rating_links.py), /metrics and /status.

stdlib http.server in a thread: three routes do not justify an ASGI stack in the hall box.
A pushed event is answered only after it is committed to the journal.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from firmware import wire, wire_gw
from gateway.http_limits import (
    MAX_CONNECTIONS,
    REQUEST_READ_TIMEOUT_S,
    LimitedHandler,
    LimitedServer,
    loads_bounded,
)
from gateway.logs import event
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Inbound, Pipeline
from gateway.rating_links import LINK_PATH, QR_KINDS, RatingLinks

log = logging.getLogger("hallrate.gateway.http")

QUEUE_PATH = "/api/v1/queue/events"
MAX_BODY = 1 << 20  # bytes; docs/gateway.md "Limits and error answers"
COMMIT_TIMEOUT_S = 15.0
MAX_REJECTED_ITEMS = 20  # rejections itemised in an answer; the rest are counted by reason
MAX_REASONS = 20  # distinct reasons counted; further ones are counted under "other"
MAX_REASON_CHARS = 200
LOG_REJECTED_ITEMS = 3


def parse_queue_events(body: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """JSON body → (valid wire queue events, rejections). Accepts one event, a list, or
    {"events": [...]}; each event is normalised and checked by wire_gw.queue_event_from, the
    same function the MQTT and serial adapters use. Raises ValueError for a body that is not
    JSON or is nested too deeply (JsonTooDeep)."""
    data = loads_bounded(body)
    if isinstance(data, dict) and "events" in data:
        data = data["events"]
    items = data if isinstance(data, list) else [data]
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for i, it in enumerate(items):
        try:
            good.append(wire_gw.queue_event_from(it))
        except wire.WireError as e:
            err = wire_gw.queue_error(it, str(e)[:MAX_REASON_CHARS])
            bad.append({"index": i, "id": err["id"], "reason": err["reason"]})
    return good, bad


def reason_class(reason: str) -> str:
    """A rejection reason without the value it quotes: "field t has a bad value: 5" →
    "field t has a bad value" (the key rejections are counted by)."""
    return reason.split(": ", 1)[0][:100]


def summarise_rejections(bad: list[dict[str, Any]]) -> dict[str, Any]:
    """The "rejected*" fields of an answer: the first MAX_REJECTED_ITEMS rejections itemised,
    the total, and counts by reason class (at most MAX_REASONS of them, then "other")."""
    by_reason: dict[str, int] = {}
    for b in bad:
        key = reason_class(b["reason"])
        if key not in by_reason and len(by_reason) >= MAX_REASONS:
            key = "other"
        by_reason[key] = by_reason.get(key, 0) + 1
    items = [{"index": b["index"], "id": b["id"], "reason": b["reason"]} for b in bad]
    return {
        "rejected": items[:MAX_REJECTED_ITEMS],
        "rejected_total": len(bad),
        "rejected_by_reason": by_reason,
    }


class GatewayHttp:
    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        pipeline: Pipeline,
        metrics: GatewayMetrics,
        status: Callable[[], dict[str, Any]],
        *,
        read_timeout_s: float = REQUEST_READ_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
        links: RatingLinks | None = None,
    ) -> None:
        self.token = token
        self.links = links  # [online] enabled: rating links in answers and at GET /online/link
        self.pipeline = pipeline
        self.metrics = metrics
        self.status = status
        app = self

        class Handler(LimitedHandler):
            server_version = "hallrate-gateway"

            def do_GET(self) -> None:
                app.get(self)

            def do_POST(self) -> None:
                app.post(self)

        Handler.read_timeout_s = read_timeout_s
        self.server = LimitedServer((host, port), Handler, max_connections)
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
        elif path == LINK_PATH or path.removeprefix(LINK_PATH) in QR_KINDS:
            self._link(h)
        else:
            _json(h, 404, {"detail": "not found"})

    def _authorised(self, h: BaseHTTPRequestHandler) -> bool:
        auth = h.headers.get("Authorization", "")
        expected = f"Bearer {self.token}".encode()
        return bool(self.token) and hmac.compare_digest(auth.encode(), expected)

    def _link(self, h: BaseHTTPRequestHandler) -> None:
        """GET /online/link[.svg|.png]?ticket=…[&day=…] (or ?token=… for an image)."""
        if not self._authorised(h):
            _json(h, 401, {"detail": "missing or wrong bearer token"})
        elif self.links is None:
            _json(h, 404, {"detail": "rating links are off ([online] enabled = false)"})
        else:
            path, _, query = h.path.partition("?")
            code, body, ctype = self.links.answer(path, query)
            _send(h, code, body, ctype)

    def post(self, h: BaseHTTPRequestHandler) -> None:
        if h.path.split("?", 1)[0] != QUEUE_PATH:
            _refuse(h, 404, "not found")
            return
        if not self._authorised(h):
            _refuse(h, 401, "missing or wrong bearer token")
            return
        body = self._read_body(h)
        if body is None:
            return
        try:
            good, bad = parse_queue_events(body)
        except ValueError as e:
            self.metrics.malformed.labels("http").inc()
            event(log, "malformed_queue_body", logging.WARNING, reason=str(e)[:MAX_REASON_CHARS])
            _json(h, 400, {"detail": str(e)[:MAX_REASON_CHARS]})
            return
        summary = summarise_rejections(bad)
        if bad:
            self.metrics.malformed.labels("http").inc(len(bad))
            event(
                log,
                "malformed_queue_events",
                logging.WARNING,
                rejected_total=len(bad),
                rejected_by_reason=dict(list(summary["rejected_by_reason"].items())[:10]),
                first=summary["rejected"][:LOG_REJECTED_ITEMS],
            )
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
        answer = {"accepted": sum(results), "duplicates": len(results) - sum(results), **summary}
        _json(h, 200, answer | self._links_of(h, good))

    def _links_of(self, h: BaseHTTPRequestHandler, events: list[dict[str, Any]]) -> dict[str, Any]:
        """The rating links of the committed finishes ([online] enabled): ``links``, and the
        link's fields at the top level when there is exactly one."""
        if self.links is None:
            return {}
        base = f"http://{h.headers.get('Host') or f'127.0.0.1:{self.port}'}"
        items = []
        for msg in events:
            try:  # the events are committed: the answer stays 200 whatever happens here
                link = self.links.for_finish(msg)
            except Exception:
                log.exception("rating link failed", extra={"event": "rating_link_failed"})
                continue
            if link is not None:
                items.append(link.push_answer(base))
        if len(items) != 1:
            return {"links": items}
        return {"links": items, **{k: v for k, v in items[0].items() if k.startswith("rating_")}}

    def _bad_body(self, h: BaseHTTPRequestHandler, reason: str) -> None:
        """A 400 for the body's length, counted and logged like every other 400 body."""
        self.metrics.malformed.labels("http").inc()
        event(log, "malformed_queue_body", logging.WARNING, reason=reason)
        _refuse(h, 400, reason)

    def _read_body(self, h: BaseHTTPRequestHandler) -> bytes | None:
        """The request body, or None after answering 411/413/400 (the body is then not read and
        the connection is closed)."""
        if h.headers.get("Transfer-Encoding"):
            _refuse(h, 411, "send the body with a Content-Length, not chunked")
            return None
        raw = h.headers.get("Content-Length")
        if raw is None:
            _refuse(h, 411, "Content-Length is required")
            return None
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            self._bad_body(h, "bad Content-Length")
            return None
        if length > MAX_BODY:
            _refuse(h, 413, f"body larger than {MAX_BODY} bytes")
            return None
        if length == 0:
            self._bad_body(h, "a JSON body is required")
            return None
        body = h.rfile.read(length)  # within the handler's read deadline
        if len(body) != length:  # the client closed early: nobody to answer
            h.close_connection = True
            return None
        return body


def _refuse(h: BaseHTTPRequestHandler, code: int, detail: str) -> None:
    """Answer a POST before reading its body; then let the client finish sending (a little) so
    that it reads the answer instead of a connection reset."""
    if isinstance(h, LimitedHandler):
        h.linger = True
    _json(h, code, {"detail": detail})


def _send(h: BaseHTTPRequestHandler, code: int, body: bytes, ctype: str) -> None:
    if isinstance(h, LimitedHandler):
        h.writing()
    h.send_response(code)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def _json(h: BaseHTTPRequestHandler, code: int, obj: Any) -> None:
    _send(h, code, json.dumps(obj, ensure_ascii=False).encode(), "application/json")
