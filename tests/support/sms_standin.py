"""TEMPORARY stand-in for the local SMS platform (simulator/sms_platform, issue #13 helper
"sms-prov"), used by the kill -9 test of the sender until that platform and the real Alibaba
SDK adapter are merged. It speaks the *shape* of Alibaba Cloud's SendSms / QuerySendDetails
(``POST /?...`` with header ``x-acs-action``; JSON answers) WITHOUT verifying signatures, and
`StandinProvider` is a bare urllib client of it, not the SDK. Replace both with the real
platform and `HALLRATE_SMS_PROVIDER=local` once merged.

Run as a module it is the sender under test: ``python -m tests.support.sms_standin send URL``
runs `hallrate sms send` (server/sms/cli.py main) with a `StandinProvider` for URL.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from server.sms.provider import Delivery, OutgoingSms, Reply, SendResult


class Platform:
    """The platform's memory: every accepted text, in order."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.sent: list[dict[str, str]] = []

    def send(self, q: dict[str, str]) -> dict[str, Any]:
        time.sleep(self.delay_s)  # a slow platform: a kill can land mid-call
        with self.lock:
            biz = f"biz{len(self.sent) + 1}"
            self.sent.append(
                {
                    "phone": q["PhoneNumbers"],
                    "out_id": q.get("OutId", ""),
                    "params": q.get("TemplateParam", "{}"),
                    "day": datetime.now(UTC).astimezone().strftime("%Y%m%d"),
                    "biz": biz,
                }
            )
        return {"Code": "OK", "Message": "OK", "BizId": biz, "RequestId": biz}

    def query(self, q: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            rows = [
                {
                    "PhoneNum": s["phone"],
                    "OutId": s["out_id"],
                    "SendStatus": 3,  # 3 = delivered
                    "BizId": s["biz"],
                    "ReceiveDate": "",
                }
                for s in self.sent
                if s["phone"] == q["PhoneNumber"]
            ]
        return {"Code": "OK", "SmsSendDetailDTOs": {"SmsSendDetailDTO": rows}}


def serve(platform: Platform, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                q.update(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            action = self.headers.get("x-acs-action", "")
            if action == "SendSms":
                body = platform.send(q)
            elif action == "QuerySendDetails":
                body = platform.query(q)
            else:
                body = {"Code": "isv.UNKNOWN_ACTION", "Message": action}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class StandinProvider:
    """Minimal client of the stand-in (one SendSms call per text: OutId is per call)."""

    name = "standin"

    def __init__(self, url: str, max_batch: int = 5) -> None:
        self.url = url
        self.max_batch = max_batch

    def _call(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        req = urllib.request.Request(
            self.url + "/?" + urllib.parse.urlencode(params),
            data=b"",
            method="POST",
            headers={"x-acs-action": action},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result

    def send(self, batch: list[OutgoingSms]) -> list[SendResult]:
        assert len(batch) <= self.max_batch
        out = []
        for t in batch:
            r = self._call(
                "SendSms",
                {
                    "PhoneNumbers": t.phone,
                    "SignName": "政务服务",
                    "TemplateCode": "SMS_0",
                    "TemplateParam": json.dumps(t.template_params, ensure_ascii=False),
                    "OutId": t.out_id,
                },
            )
            ok = r.get("Code") == "OK"
            out.append(SendResult(t.out_id, ok, r.get("BizId"), None if ok else r.get("Code")))
        return out

    def deliveries(self, phone: str, sent_on: date) -> list[Delivery]:
        r = self._call(
            "QuerySendDetails",
            {"PhoneNumber": phone, "SendDate": sent_on.strftime("%Y%m%d"), "PageSize": "50"},
        )
        rows = r["SmsSendDetailDTOs"]["SmsSendDetailDTO"]
        state = {1: "pending", 2: "undeliverable", 3: "delivered"}
        return [
            Delivery(d["OutId"] or None, d["PhoneNum"], state[d["SendStatus"]], None, d["BizId"])
            for d in rows
        ]

    def replies(self, since: datetime) -> list[Reply]:
        return []


if __name__ == "__main__":
    from server.sms.cli import main

    url = sys.argv[2]
    sys.exit(main([sys.argv[1]], provider_factory=lambda _settings: StandinProvider(url)))
