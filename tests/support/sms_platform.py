"""The local SMS platform for tests: a real socket served by a thread, and the real SDK adapters
pointed at it."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from server.sms.aliyun import AliyunSms
from server.sms.tencent import TencentSms
from simulator.sms_platform.server import PlatformServer, start_platform
from simulator.sms_platform.state import (
    DEFAULT_KEY_ID,
    DEFAULT_KEY_SECRET,
    DEFAULT_SDK_APP_ID,
    DEFAULT_SIGN,
    Config,
)


@contextmanager
def running_platform(config: Config | None = None) -> Iterator[PlatformServer]:
    server, thread = start_platform(config=config or Config(push_interval=0.05))
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def aliyun(server: PlatformServer, secret: str = DEFAULT_KEY_SECRET, **kw: Any) -> AliyunSms:
    kw.setdefault("timeout_seconds", 5.0)
    return AliyunSms(
        DEFAULT_KEY_ID,
        secret,
        kw.pop("sign_name", DEFAULT_SIGN),
        kw.pop("template_code", "SMS_HALLRATE"),
        endpoint=server.endpoint,
        protocol="http",
        smsup_pull_url=f"http://{server.endpoint}/_sim/aliyun/smsup",
        **kw,
    )


def tencent(server: PlatformServer, secret: str = DEFAULT_KEY_SECRET, **kw: Any) -> TencentSms:
    kw.setdefault("timeout_seconds", 5.0)
    return TencentSms(
        DEFAULT_KEY_ID,
        secret,
        DEFAULT_SDK_APP_ID,
        kw.pop("sign_name", DEFAULT_SIGN),
        kw.pop("template_id", "1000001"),
        param_order=kw.pop("param_order", ("hall", "window")),
        endpoint=server.endpoint,
        protocol="http",
        **kw,
    )


def admin(server: PlatformServer, path: str, body: Any = None) -> Any:
    """GET (body None) or POST JSON to the platform's /_sim/ admin API."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://{server.endpoint}/_sim/{path}",
        data=data,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def join_pushes(timeout: float = 10.0) -> None:
    """Wait until every push thread of the platform has finished (all attempts made)."""
    deadline = time.monotonic() + timeout
    for thread in [t for t in threading.enumerate() if t.name == "sms-push"]:
        thread.join(max(0.0, deadline - time.monotonic()))


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)
