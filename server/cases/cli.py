"""`hallrate cases`: the case clock (docs/cases.md "Command line").

    hallrate cases tick [--now ISO] [--json]       flags and provisional deadlines, once
    hallrate cases tick --every SECONDS [--json]   the same as a worker, every SECONDS
    hallrate cases recompute [--all] [--json]      recompute provisional (--all: every open
                                                   case's) deadlines

Exit codes: 0 done, 2 bad arguments, policy, settings, or a database whose schema is behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.cases.tick import TickResult
    from server.policy import Policy


def _seconds(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 1 <= n <= 86400:
        raise argparse.ArgumentTypeError("--every must be 1..86400 seconds")
    return n


def _instant(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (2026-10-09T09:00:00+08:00; no offset: hall-local)"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hallrate cases",
        description="Cases: the case clock. (`hallrate cases form` and `hallrate cases ledger` "
        'print the forms and the ledger: docs/cases.md "Forms and ledger".)',
    )
    sub = parser.add_subparsers(dest="action", required=True)
    t = sub.add_parser(
        "tick",
        help="recompute provisional deadlines, set yellow/red/escalated flags, alert on changes",
    )
    t.add_argument(
        "--now",
        type=_instant,
        metavar="ISO",
        help="run as at this instant (no offset: hall-local); default: the clock",
    )
    t.add_argument(
        "--every", type=_seconds, metavar="SECONDS", help="worker: tick every SECONDS (1..86400)"
    )
    t.add_argument("--json", action="store_true", help="each result as one JSON object")
    r = sub.add_parser("recompute", help="recompute the deadlines of open provisional cases")
    r.add_argument(
        "--all",
        action="store_true",
        help="every open case (after a calendar correction or a change of [cases] limits)",
    )
    r.add_argument("--json", action="store_true", help="the count as one JSON object")
    return parser


def _err(message: str) -> int:
    print(f"hallrate cases: {message}", file=sys.stderr)
    return 2


def summary(result: TickResult) -> str:
    flags = ", ".join(f"{k} {v}" for k, v in sorted(result.flags.items())) or "none"
    return (
        f"cases tick {result.now.isoformat()} (day {result.today}): "
        f"{result.open_cases} open, {result.recomputed} recomputed, flags changed: {flags}"
    )


def _print(result: TickResult, as_json: bool) -> None:
    print(json.dumps(result.to_dict()) if as_json else summary(result), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.action == "tick" and args.every is not None and args.now is not None:
        parser.error("--every runs on the clock: no --now")
    from server.db import make_engine, make_sessionmaker
    from server.migrate import schema_behind
    from server.policy import PolicyError, load_policy
    from server.settings_cli import load_settings

    settings = load_settings("cases")
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as e:
        return _err(str(e))
    if reason := schema_behind(settings.resolved_database_url):
        return _err(reason)
    engine = make_engine(settings.resolved_database_url)
    try:
        sessions = make_sessionmaker(engine)
        if args.action == "recompute":
            from server.cases.tick import recompute_deadlines

            with sessions() as session:
                n = recompute_deadlines(session, policy, every=args.all)
            print(json.dumps({"recomputed": n}) if args.json else f"cases recomputed: {n}")
            return 0
        if args.every is not None:
            return _worker(sessions, policy, args)
        from server.cases.tick import tick

        now = args.now or datetime.now(UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=policy.tzinfo)
        with sessions() as session:
            _print(tick(session, policy, now=now), args.json)
        return 0
    finally:
        engine.dispose()


def _worker(sessions: Any, policy: Policy, args: argparse.Namespace) -> int:
    from server.cases.worker import BackgroundTick

    background = BackgroundTick(sessions, policy, args.every)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            try:
                _print(background.run_once(), args.json)
            except Exception as exc:  # the database away: report, try again
                print(f"hallrate cases: tick failed: {exc}", file=sys.stderr, flush=True)
            time.sleep(args.every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
