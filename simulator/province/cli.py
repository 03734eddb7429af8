"""`hallrate export platform`: the fake provincial platform in the foreground (docs/export.md
"The fake provincial platform"). It speaks the dialect of ``--profile`` and checks its auth
scheme with the credential in the environment variable ``--secret-env``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from simulator.province.state import FRACTIONS, MAX_DELAY, Config


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError("must be 0..1")
    return v


def _count(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return v


def _port(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError("must be 0..65535 (0: any free port)")
    return v


def _delay(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= v <= MAX_DELAY:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"must be 0..{MAX_DELAY:g} seconds")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", required=True, help="a shipped profile's name or a .toml file")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8490, help="0..65535, default %(default)s")
    p.add_argument(
        "--secret-env",
        default="",
        help="environment variable with the credential the profile's auth scheme checks",
    )
    for name in FRACTIONS:
        flag = "--" + name.replace("_", "-")
        p.add_argument(flag, type=_fraction, default=0.0, help="0..1 (default 0)")
    p.add_argument(
        "--reject-times", type=_count, default=1, help="refusals per chosen record (0: always)"
    )
    p.add_argument(
        "--timeout-delay", type=_delay, default=5.0, help="seconds (timeout fault), 0..3600"
    )
    p.add_argument(
        "--answer-delay", type=_delay, default=0.0, help="seconds every push is held, 0..3600"
    )
    p.add_argument("--dedupe", action="store_true", help="a create of a record held: no copy")
    p.add_argument("--seed", type=int, default=0)


def serve(args: argparse.Namespace) -> int:
    from server.export.profiles import ProfileError, load_profile
    from simulator.province.server import start_platform

    try:
        profile = load_profile(args.profile)
    except ProfileError as e:
        print(f"hallrate export platform: {e}", file=sys.stderr)
        return 2
    secret = os.environ.get(args.secret_env, "") if args.secret_env else ""
    if profile.auth.scheme != "none" and not secret:
        print(
            f"hallrate export platform: profile {profile.name} checks {profile.auth.scheme}: "
            "name the credential's environment variable with --secret-env (and set it)",
            file=sys.stderr,
        )
        return 2
    config = Config(
        reject_times=args.reject_times,
        timeout_delay=args.timeout_delay,
        answer_delay=args.answer_delay,
        dedupe=args.dedupe,
        seed=args.seed,
        **{name: getattr(args, name) for name in FRACTIONS},
    )
    try:
        server, thread = start_platform(profile, secret, config, args.host, args.port)
    except (OSError, OverflowError) as e:
        print(
            f"hallrate export platform: cannot listen on {args.host}:{args.port}: {e}",
            file=sys.stderr,
        )
        return 2
    print(
        f"fake provincial platform ({profile.name}) on {server.base_url}: "
        f"POST {server.push_url}, GET {server.query_url}, admin {server.base_url}/_sim/",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    server.server_close()
    thread.join(5)
    return 0
