"""HTTP front of the fake provincial platform (docs/export.md "The fake provincial platform"):
POST /ratings takes a batch in the profile's dialect, GET /query answers the query API, the
admin API is under /_sim/. Run it with `hallrate export platform`; tests start it in a thread
(`start_platform`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from server.export.codec import Result, results_body
from server.export.profile_model import Profile
from simulator.province.state import Config, PlatformState

log = logging.getLogger("hallrate.province")
PUSH_PATH = "/ratings"
QUERY_PATH = "/query"
MAX_SKEW_SECONDS = 300
MAX_PAGE = 1000


class PlatformServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: PlatformState) -> None:
        super().__init__(address, Handler)
        self.state = state

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def push_url(self) -> str:
        return self.base_url + PUSH_PATH

    @property
    def query_url(self) -> str:
        return self.base_url + QUERY_PATH


def verify(profile: Profile, secret: str, headers: dict[str, str], body: bytes) -> str | None:
    """Why the request's credentials are wrong, or None (the profile's auth scheme)."""
    a = profile.auth
    if a.scheme == "none":
        return None
    got = headers.get(a.header.lower(), "")
    if a.scheme == "bearer":
        ok = hmac.compare_digest(got.encode(), f"Bearer {secret}".encode())
        return None if ok else f"{a.header}: not the bearer token"
    signed = body
    if a.timestamp_header:
        stamp = headers.get(a.timestamp_header.lower(), "")
        if not stamp.isdigit() or abs(int(stamp) - time.time()) > MAX_SKEW_SECONDS:
            return f"{a.timestamp_header}: missing or more than {MAX_SKEW_SECONDS} s off"
        signed = f"{stamp}\n".encode() + body
    want = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return (
        None if hmac.compare_digest(got.encode(), want.encode()) else f"{a.header}: bad signature"
    )


class Handler(BaseHTTPRequestHandler):
    server: PlatformServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout fault)
            pass

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._body()
        query = dict(parse_qsl(url.query))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            if url.path.startswith("/_sim/"):
                return self._admin(method, url.path, body)
            state = self.server.state
            problem = verify(state.profile, state.secret, headers, body)
            if problem is not None and (url.path in (PUSH_PATH, QUERY_PATH)):
                with state.lock:
                    state.calls.append({"path": url.path, "error": problem})
                return self._send(401, {"error": problem})
            if method == "POST" and url.path == PUSH_PATH:
                return self._push(body)
            if method == "GET" and url.path == QUERY_PATH:
                return self._query(query)
            self._send(404, {"error": f"no route {method} {url.path}"})
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, {"error": str(exc)})

    def _push(self, body: bytes) -> None:
        state = self.server.state
        profile = state.profile
        doc = json.loads(body or b"{}")
        items = doc.get(profile.envelope) if isinstance(doc, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return self._send(400, {"error": f"the body needs a {profile.envelope} list"})
        with state.lock:
            fault = state.request_fault()
            call = {"path": PUSH_PATH, "records": len(items), "fault": fault}
            state.calls.append(call)
            if fault == "server_error":
                return self._send(500, {"error": "simulated server error"})
            now = state.now()
            results = [state.apply(item, now) for item in items]
            previous = state.last_results
            state.last_results = results
            delay = state.config.timeout_delay
            slow = state.config.answer_delay
        call["accepted"] = sum(r.ok for r in results)
        answer: list[Result] = list(results)
        if fault == "duplicate_ack":  # every result twice, and the last answer's again
            answer = results + results + previous
        if slow:
            time.sleep(slow)
        if fault == "drop":  # stored; the connection closes without an answer
            self.close_connection = True
            return
        if fault == "timeout":  # stored; the answer comes after the client gave up
            time.sleep(delay)
        self._send(200, results_body(answer, profile))

    def _query(self, query: dict[str, str]) -> None:
        state = self.server.state
        envelope = state.profile.envelope
        with state.lock:
            state.calls.append({"path": QUERY_PATH, "query": dict(query)})
            if "record_ids" in query:
                ids = [i for i in query["record_ids"].split(",") if i]
                return self._send(200, {envelope: state.query_ids(ids)})
            if "from" in query and "to" in query:
                first, last = date.fromisoformat(query["from"]), date.fromisoformat(query["to"])
                page = max(1, int(query.get("page", "1")))
                size = min(MAX_PAGE, max(1, int(query.get("page_size", str(MAX_PAGE)))))
                return self._send(200, {envelope: state.query_days(first, last, page, size)})
        self._send(400, {"error": "query by record_ids=… or by from=…&to=… (YYYY-MM-DD)"})

    def _admin(self, method: str, path: str, body: bytes) -> None:
        state = self.server.state
        data = json.loads(body) if body else {}
        parts = path.strip("/").split("/")[1:]
        if method == "POST" and not isinstance(data, dict):
            return self._send(400, {"error": "the body is a JSON object"})
        with state.lock:
            if method == "GET" and parts == ["health"]:
                return self._send(200, {"ok": True, "profile": state.profile.name})
            if method == "GET" and parts == ["records"]:
                return self._send(200, [e.public(state.profile) for e in state.entries])
            if method == "GET" and parts == ["calls"]:
                return self._send(200, state.calls)
            if method == "GET" and parts == ["config"]:
                return self._send(200, state.config.public())
            if method == "POST" and parts == ["config"]:
                state.config.update(data)
                return self._send(200, state.config.public())
            if method == "POST" and parts == ["fault"]:
                state.add_fault(data.get("kind"), data.get("count", 1))
                return self._send(200, {"faults": state.faults})
            if method == "POST" and parts == ["forget"]:  # the platform loses records
                ids = data.get("record_ids", [])
                if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                    return self._send(400, {"error": "record_ids must be a list of record ids"})
                before = len(state.entries)
                state.entries[:] = [e for e in state.entries if e.record_id not in ids]
                return self._send(200, {"forgotten": before - len(state.entries)})
            if method == "POST" and parts == ["reset"]:
                state.reset()
                return self._send(200, {"ok": True})
        self._send(404, {"error": f"no admin route {method} {path}"})


def start_platform(
    profile: Profile,
    secret: str = "",
    config: Config | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> tuple[PlatformServer, threading.Thread]:
    """The platform on a real socket, served by a daemon thread; stop with server.shutdown()."""
    server = PlatformServer((host, port), PlatformState(profile, secret, config))
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="province-platform", daemon=True
    )
    thread.start()
    return server, thread
