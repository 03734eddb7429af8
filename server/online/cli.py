"""`hallrate online`: the online rating channel's commands (docs/online-rating.md). Today:
`hallrate online defaults`, the system default rating job (once, or ``--every`` as a worker).

Exit codes: 0 done (also when ``[default_rating]`` is off: it says so and does nothing),
1 some default ratings were rejected by ingest (listed), 2 bad arguments, policy, settings or
hall, or a database whose schema is behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from server.online.defaults import DefaultsResult

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from server.policy import Policy


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def _seconds(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 1 <= n <= 86400:
        raise argparse.ArgumentTypeError("--every must be 1..86400 seconds")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hallrate online", description="Online rating.")
    sub = parser.add_subparsers(dest="action", required=True)
    d = sub.add_parser(
        "defaults", help="create the system default ratings that are due (once, or --every)"
    )
    d.add_argument(
        "--today",
        type=_day,
        metavar="YYYY-MM-DD",
        help="run as on this hall-local day (default: today)",
    )
    d.add_argument("--dry-run", action="store_true", help="count, store nothing")
    d.add_argument("--hall", metavar="CODE", help="this hall only (default: every hall)")
    d.add_argument("--json", action="store_true", help="the counts as one JSON object")
    d.add_argument(
        "--every",
        type=_seconds,
        metavar="SECONDS",
        help="worker: run now, then daily at [default_rating] run_at; wake every SECONDS",
    )
    return parser


def _err(message: str) -> int:
    print(f"hallrate online: {message}", file=sys.stderr)
    return 2


def summary(result: DefaultsResult) -> str:
    if not result.enabled:
        return (
            f"default ratings {result.today}: off ([default_rating] enabled = false), nothing done"
        )
    created = "would create" if result.dry_run else "created"
    return (
        f"default ratings {result.today}{' (dry run)' if result.dry_run else ''}: "
        f"{result.halls} halls, due {result.due}, {created} {result.created}, "
        f"already rated {result.already_rated}, already defaulted {result.already_defaulted}, "
        f"provisional {result.provisional}, rejected {len(result.rejected)}"
    )


def _print(result: DefaultsResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)
        return
    print(summary(result), flush=True)
    for line in result.rejected:
        print(f"  rejected {line}", flush=True)
    if result.calendar_missing:
        print(f"  waiting for calendar data: {result.calendar_missing}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.every is not None and (args.today or args.dry_run or args.hall):
        parser.error("--every runs on the clock for every hall: no --today, --dry-run or --hall")
    from server.db import make_engine, make_sessionmaker
    from server.migrate import schema_behind
    from server.policy import PolicyError, load_policy
    from server.settings_cli import load_settings

    settings = load_settings("online")
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as e:
        return _err(str(e))
    today = datetime.now(UTC).astimezone(policy.tzinfo).date()
    if args.today is not None and args.today > today:
        return _err(f"--today {args.today} is after today ({today}, {policy.timezone})")
    if reason := schema_behind(settings.resolved_database_url):
        return _err(reason)
    engine = make_engine(settings.resolved_database_url)
    try:
        sessions = make_sessionmaker(engine)
        if args.every is not None:
            return _worker(sessions, policy, args)
        from server.online.defaults import DefaultsError, run_defaults

        with sessions() as session:
            try:
                result = run_defaults(
                    session, policy, args.today or today, hall=args.hall, dry_run=args.dry_run
                )
            except DefaultsError as e:
                return _err(str(e))
        _print(result, args.json)
        return 1 if result.rejected else 0
    finally:
        engine.dispose()


def _worker(sessions: sessionmaker[Session], policy: Policy, args: argparse.Namespace) -> int:
    from server.online.defaults_worker import Worker, loop

    def failed(exc: Exception) -> None:
        print(f"hallrate online: default rating run failed: {exc}", file=sys.stderr, flush=True)

    worker = Worker(sessions, policy)
    with contextlib.suppress(KeyboardInterrupt):
        loop(
            worker,
            args.every,
            lambda: datetime.now(UTC),
            lambda r: _print(r, args.json),
            failed,
            time.sleep,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
