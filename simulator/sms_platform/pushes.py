"""Pushing the phones' replies to configured callback URLs, with retries like the real platforms.

Alibaba Cloud pushes a JSON array of SmsUp messages and expects {"code": 0}; Tencent Cloud posts
one JSON object per reply and expects {"result": 0}. Anything else (an HTTP error, a timeout, a
refused connection, another body) is a failed attempt, retried up to `push_retries` times,
`push_interval` seconds apart. `push_duplicates` sends every successful push again that many
times, as a platform does when an acknowledgement is lost.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from simulator.sms_platform import aliyun_api, tencent_api
from simulator.sms_platform.state import PhoneReply, PlatformState

PUSH_TIMEOUT_SECONDS = 5.0


def schedule(state: PlatformState, reply: PhoneReply) -> None:
    cfg = state.config
    url = cfg.aliyun_callback if reply.provider == "aliyun" else cfg.tencent_callback
    if not url:
        return
    payload: Any
    if reply.provider == "aliyun":
        payload, ack = [aliyun_api.smsup_message(reply)], ("code", 0)
    else:
        payload, ack = tencent_api.reply_callback(reply), ("result", 0)
    thread = threading.Thread(
        target=_push, args=(state, url, payload, ack, reply.seq), name="sms-push", daemon=True
    )
    thread.start()


def _attempt(url: str, payload: Any, ack: tuple[str, int]) -> str | None:
    """None on success, else why it failed."""
    data = json.dumps(payload, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json;charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=PUSH_TIMEOUT_SECONDS) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if not isinstance(body, dict) or body.get(ack[0]) != ack[1]:
        return f"not acknowledged: {body!r}"
    return None


def _push(state: PlatformState, url: str, payload: Any, ack: tuple[str, int], seq: int) -> None:
    cfg = state.config
    attempts = 1 + max(0, cfg.push_retries)
    for n in range(1, attempts + 1):
        problem = _attempt(url, payload, ack)
        with state.lock:
            state.pushes.append({"sequence_id": seq, "url": url, "attempt": n, "error": problem})
        if problem is None:
            for extra in range(cfg.push_duplicates):
                again = _attempt(url, payload, ack)
                with state.lock:
                    state.pushes.append(
                        {
                            "sequence_id": seq,
                            "url": url,
                            "attempt": n + 1 + extra,
                            "error": again,
                            "duplicate": True,
                        }
                    )
            return
        if n < attempts:
            time.sleep(cfg.push_interval)
