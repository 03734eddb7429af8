"""`hallrate sms platform`: the local SMS platform (simulator/sms_platform) that the official
Alibaba Cloud and Tencent Cloud SDKs can be pointed at (docs/sms.md, Providers)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import Any

from server.sms.providers import LOCAL_PORT


def run_platform(args: argparse.Namespace) -> int:
    from simulator.sms_platform.server import start_platform
    from simulator.sms_platform.state import DEFAULT_TEMPLATES, Config

    config = Config()
    config.credentials = {args.access_key_id: args.access_key_secret}
    config.sdk_app_id = args.sdk_app_id
    if args.sign_name:
        config.sign_names = set(args.sign_name)
    templates = dict(DEFAULT_TEMPLATES)
    for item in args.template or []:
        code, eq, text = item.partition("=")
        if not eq or not code or not text:
            print(
                f"hallrate sms platform: --template wants CODE=TEXT, got {item!r}", file=sys.stderr
            )
            return 2
        templates[code] = text
    config.templates = templates
    config.deliver_after = args.deliver_after
    config.undeliverable = set(args.undeliverable or [])
    config.aliyun_callback = args.aliyun_callback
    config.tencent_callback = args.tencent_callback
    config.push_retries = args.push_retries
    config.push_interval = args.push_interval
    config.push_duplicates = args.push_duplicates
    try:
        server, thread = start_platform(args.host, args.port, config)
    except OSError as exc:
        print(
            f"hallrate sms platform: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    print(
        f"SMS platform listening on http://{server.endpoint} "
        f"(Alibaba Cloud and Tencent Cloud SMS APIs; admin under /_sim/)",
        flush=True,
    )
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stop.wait()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    return 0


def add_platform_parser(sub: Any) -> None:
    p = sub.add_parser(
        "platform",
        help="run the local SMS platform (Alibaba Cloud + Tencent Cloud SMS APIs)",
        description="A local SMS platform that the official Alibaba Cloud and Tencent Cloud SDKs "
        "can be pointed at: it verifies their signatures, keeps each simulated phone's texts, "
        "reports delivery and hands back replies (docs/sms.md, Providers).",
    )
    p.add_argument("--host", default="127.0.0.1", help="listen address (default %(default)s)")
    p.add_argument("--port", type=int, default=LOCAL_PORT, help="listen port (default %(default)s)")
    p.add_argument(
        "--access-key-id",
        default="LTAI-local-dev",
        help="the accepted AccessKey ID / SecretId (default %(default)s)",
    )
    p.add_argument(
        "--access-key-secret", default="local-dev-secret", help="its secret (default %(default)s)"
    )
    p.add_argument(
        "--sdk-app-id",
        default="1400000000",
        help="the accepted Tencent SmsSdkAppId (default %(default)s)",
    )
    p.add_argument(
        "--sign-name", action="append", help="an approved 签名 (repeatable; default 政务服务)"
    )
    p.add_argument(
        "--template",
        action="append",
        metavar="CODE=TEXT",
        help="an approved template, ${name} (Alibaba) or {1} (Tencent) parameters "
        "(repeatable; SMS_HALLRATE and 1000001 are built in)",
    )
    p.add_argument(
        "--deliver-after",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="seconds from send to the delivery report (default %(default)s)",
    )
    p.add_argument(
        "--undeliverable",
        action="append",
        metavar="PHONE",
        help="an 11-digit number whose texts fail (repeatable)",
    )
    p.add_argument(
        "--aliyun-callback", metavar="URL", help="push Alibaba-routed replies (SmsUp) to this URL"
    )
    p.add_argument(
        "--tencent-callback",
        metavar="URL",
        help="push Tencent-routed replies (reply callback) to this URL",
    )
    p.add_argument(
        "--push-retries",
        type=int,
        default=10,
        help="retries of a push that is not acknowledged (default %(default)s)",
    )
    p.add_argument(
        "--push-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between push attempts (default %(default)s)",
    )
    p.add_argument(
        "--push-duplicates",
        type=int,
        default=0,
        help="send every acknowledged push again N times (default %(default)s)",
    )
    p.set_defaults(func=run_platform)
