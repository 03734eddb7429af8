"""HTTP front of the local SMS platform: the two providers' APIs on POST /, admin under /_sim/.

Run it with `hallrate sms platform --port N`; tests start it in a thread (`start_platform`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from simulator.sms_platform import aliyun_api, pushes, tencent_api
from simulator.sms_platform.signatures import verify_acs3, verify_tc3
from simulator.sms_platform.state import Config, PlatformState, normalize_phone

log = logging.getLogger("hallrate.sms_platform")
NONCE_TTL_SECONDS = 900
ACS_MAX_SKEW_SECONDS = 900


class PlatformServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: PlatformState) -> None:
        super().__init__(address, Handler)
        self.state = state

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"


class Handler(BaseHTTPRequestHandler):
    server: PlatformServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # -- plumbing ---------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, payload: Any, delay: float = 0.0) -> None:
        if delay:
            time.sleep(delay)
        data = json.dumps(payload, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/json"
            )  # the Tencent SDK compares it exactly
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            if url.path.startswith("/_sim/"):
                self._admin(method, url.path, dict(parse_qsl(url.query)), body)
            elif method == "POST" and "x-acs-action" in headers:
                self._aliyun(url.path, parse_qsl(url.query, keep_blank_values=True), headers, body)
            elif method == "POST" and "x-tc-action" in headers:
                self._tencent(url.path, url.query, headers, body)
            else:
                self._send(404, {"error": "not an SMS API request"})
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, {"error": str(exc)})

    # -- the provider APIs ------------------------------------------------------------------
    def _aliyun(
        self, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> None:
        state = self.server.state
        problem = verify_acs3(state.config.credentials, "POST", path, query, headers, body)
        if problem is None:
            problem = _fresh_acs(state, headers)
        action = headers["x-acs-action"]
        if problem is not None:
            status = 404 if problem[0].startswith("InvalidAccessKeyId") else 400
            state.calls.append({"api": "aliyun", "action": action, "error": problem[0]})
            return self._send(status, {"Code": problem[0], "Message": problem[1], "RequestId": "-"})
        params = dict(query)
        if body and "form-urlencoded" in headers.get("content-type", ""):
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        status, payload, delay = aliyun_api.handle(state, action, params)
        state.calls.append(
            {
                "api": "aliyun",
                "action": action,
                "numbers": _count_aliyun(params),
                "code": payload.get("Code"),
            }
        )
        self._send(status, payload, delay)

    def _tencent(self, path: str, query: str, headers: dict[str, str], body: bytes) -> None:
        state = self.server.state
        action = headers["x-tc-action"]
        problem = verify_tc3(
            state.config.credentials, "POST", path, query, headers, body, time.time()
        )
        if problem is not None:
            state.calls.append({"api": "tencent", "action": action, "error": problem[0]})
            return self._send(200, tencent_api.error(*problem))
        params = json.loads(body or b"{}")
        status, payload, delay = tencent_api.handle(state, action, params)
        numbers = params.get("PhoneNumberSet")
        state.calls.append(
            {
                "api": "tencent",
                "action": action,
                "numbers": len(numbers) if isinstance(numbers, list) else 0,
                "code": payload.get("Response", {}).get("Error", {}).get("Code", "Ok"),
            }
        )
        self._send(status, payload, delay)

    # -- admin ------------------------------------------------------------------------------
    def _admin(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        state = self.server.state
        data = json.loads(body) if body else {}
        now = state.now()
        parts = path.strip("/").split("/")[1:]
        with state.lock:
            if method == "GET" and parts == ["health"]:
                return self._send(200, {"ok": True})
            if method == "GET" and parts == ["phones"]:
                inbox: dict[str, list[dict[str, Any]]] = {}
                for t in state.texts:
                    inbox.setdefault(t.phone, []).append(t.public(now))
                return self._send(200, inbox)
            if method == "GET" and len(parts) == 2 and parts[0] == "phones":
                return self._send(200, [t.public(now) for t in state.texts_of(parts[1])])
            if method == "GET" and parts == ["replies"]:
                return self._send(200, [r.public() for r in state.replies])
            if method == "GET" and parts == ["aliyun", "smsup"]:
                since = _parse_at(query.get("since")) or datetime.min.replace(tzinfo=UTC)
                rows = [
                    aliyun_api.smsup_message(r)
                    for r in state.replies
                    if r.provider == "aliyun" and r.at >= since
                ]
                return self._send(200, rows)
            if method == "GET" and parts == ["calls"]:
                return self._send(200, state.calls)
            if method == "GET" and parts == ["pushes"]:
                return self._send(200, state.pushes)
            if method == "GET" and parts == ["config"]:
                return self._send(200, state.config.public())
            if method == "POST" and parts == ["config"]:
                state.config.update(data)
                return self._send(200, state.config.public())
            if method == "POST" and parts == ["fault"]:
                state.add_fault(
                    str(data.get("action", "*")), str(data["kind"]), int(data.get("count", 1))
                )
                return self._send(200, {"faults": state.faults})
            if method == "POST" and parts == ["reset"]:
                state.texts.clear()
                state.replies.clear()
                state.calls.clear()
                state.pushes.clear()
                state.faults.clear()
                return self._send(200, {"ok": True})
        if method == "POST" and parts == ["reply"]:
            phone = normalize_phone(str(data.get("phone", "")))
            if phone is None:
                return self._send(400, {"error": "phone must be an 11-digit mainland number"})
            provider = data.get("provider")
            if provider not in (None, "aliyun", "tencent"):
                return self._send(400, {"error": "provider must be aliyun or tencent"})
            reply = state.add_reply(
                phone, str(data.get("text", "")), _parse_at(data.get("at")), provider
            )
            pushes.schedule(state, reply)
            return self._send(200, reply.public())
        self._send(404, {"error": f"no admin route {method} {path}"})


def _parse_at(raw: Any) -> datetime | None:
    if not raw:
        return None
    at = datetime.fromisoformat(str(raw))
    if at.tzinfo is None:
        raise ValueError("'at' / 'since' need a UTC offset, e.g. 2025-03-01T17:30:00+08:00")
    return at


def _count_aliyun(params: dict[str, str]) -> int:
    if "PhoneNumberJson" in params:
        try:
            return len(json.loads(params["PhoneNumberJson"]))
        except ValueError:
            return 0
    return len([p for p in params.get("PhoneNumbers", "").split(",") if p])


def _fresh_acs(state: PlatformState, headers: dict[str, str]) -> tuple[str, str] | None:
    """x-acs-date within 15 minutes, and each x-acs-signature-nonce used once."""
    try:
        at = datetime.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return (
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        )
    now = time.time()
    if abs(at.replace(tzinfo=UTC).timestamp() - now) > ACS_MAX_SKEW_SECONDS:
        return ("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    nonce = headers.get("x-acs-signature-nonce", "")
    with state.lock:
        for old in [n for n, t in state.nonces.items() if now - t > NONCE_TTL_SECONDS]:
            del state.nonces[old]
        if not nonce or nonce in state.nonces:
            return ("SignatureNonceUsed", "Specified signature nonce was used already.")
        state.nonces[nonce] = now
    return None


def start_platform(
    host: str = "127.0.0.1", port: int = 0, config: Config | None = None
) -> tuple[PlatformServer, threading.Thread]:
    """The platform on a real socket, served by a daemon thread; stop with server.shutdown()."""
    server = PlatformServer((host, port), PlatformState(config))
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="sms-platform", daemon=True
    )
    thread.start()
    return server, thread
