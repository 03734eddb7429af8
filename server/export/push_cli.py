"""`hallrate export run | status | reconcile | retry | platform` (docs/export.md "Command line"),
added to the `hallrate export` parser by server/export/cli.py:

  hallrate export run [--target T] [--once]     push: check, enqueue, send; every
                                                HALLRATE_EXPORT_POLL_SECONDS until stopped
  hallrate export status [--target T] [--state S] [--limit N]
  hallrate export reconcile --target T --period P [--requeue]
  hallrate export retry --target T              rejected and failed records: another round
  hallrate export platform --profile P [--port N] ...   the fake provincial platform

Bad input (a targets file, a setting, a period): one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from server.reports.cli import Stop, context, err

PROG = "hallrate export"


def _targets(name: str | None) -> list[Any]:
    from server.export.targets import TargetsError, load_targets, pick

    try:
        return pick(load_targets(), name)
    except TargetsError as e:
        raise Stop(str(e)) from None


def _settings() -> Any:
    from server.export.worker import load_export_settings

    try:
        return load_export_settings()
    except ValueError as e:
        raise Stop(str(e)) from None


def _run(args: argparse.Namespace) -> int:
    from gateway.logs import setup
    from server.export.push import Pusher
    from server.export.worker import one_pass, run_loop

    setup()
    # The schema check at start-up would log alembic's set-up lines on every run.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = _settings()
        targets = _targets(args.target)
        if not targets:
            raise Stop("no enabled target in the targets file (enabled = true)")
        with context("export") as c:
            pusher = Pusher(c.sessions, c.policy.tzinfo, settings.timing())
            if args.once:
                reports = one_pass(pusher, targets, sys.stdout)
                return 1 if any(r.errors for r in reports) else 0
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            run_loop(pusher, targets, settings.poll_seconds, stop, sys.stdout)
            return 0
    except Stop as e:
        return err(str(e), PROG)


def _status(args: argparse.Namespace) -> int:
    from server.export.status import print_status

    try:
        with context("export") as c:
            return print_status(c.sessions, c.policy.tzinfo, args.target, args.state, args.limit)
    except Stop as e:
        return err(str(e), PROG)


def _reconcile(args: argparse.Namespace) -> int:
    from server.export.client import PlatformClient, PlatformError
    from server.export.reconcile import reconcile, requeue
    from server.export.targets import TargetsError
    from server.periods import PeriodError, parse_period

    try:
        target = _targets(args.target)[0]
        with context("export") as c:
            period = parse_period(args.period, c.policy.timezone)
            client = PlatformClient(target, target.secret())
            try:
                with c.sessions() as session:
                    rec, ours, ids = reconcile(session, target, client, period, c.policy.tzinfo)
                    queued = (
                        requeue(session, target, rec, ours, ids, datetime.now(UTC))
                        if args.requeue
                        else None
                    )
            finally:
                client.close()
    except (Stop, PeriodError, TargetsError, PlatformError) as e:
        return err(str(e), PROG)
    from server.export.reconcile import KINDS

    counts = ", ".join(f"{k} {rec.count(k)}" for k in KINDS)
    print(
        f"target {rec.target}, {rec.period}: hallrate {rec.held} records, "
        f"platform {rec.platform}; {counts}"
    )
    print("kind\trecord_id\tours\ttheirs\toutbox\tnote")
    for d in rec.differences:
        print(f"{d.kind}\t{d.record_id}\t{d.ours}\t{d.theirs}\t{d.state or '-'}\t{d.note}")
    if queued is not None:
        print(f"requeued {queued} lost records (missing at the platform, accepted before)")
    return 0


def _retry(args: argparse.Namespace) -> int:
    from server.export.status import retry

    try:
        target = _targets(args.target)[0]
        with context("export") as c:
            got = retry(c.sessions, target.name, datetime.now(UTC))
    except Stop as e:
        return err(str(e), PROG)
    print(
        f"target {target.name}: {got['rejected']} refused by the platform to send again, "
        f"{got['local']} refused locally to build again, {got['failed']} failed to check "
        "and send again (at the next `hallrate export run`)"
    )
    return 0


def _platform(args: argparse.Namespace) -> int:
    from simulator.province.cli import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return serve(args)


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return n


def add_parsers(sub: Any) -> None:
    """The push commands, on the `hallrate export` subparsers."""
    from server.models import EXPORT_STATES

    s = sub.add_parser("run", help="push to the targets: check, enqueue, send (a worker)")
    s.add_argument("--target", help="only this target (enabled or not)")
    s.add_argument("--once", action="store_true", help="one pass, then exit")
    s.set_defaults(run=_run)
    s = sub.add_parser("status", help="the outbox by target and state; rows of a state")
    s.add_argument("--target", help="only this target")
    s.add_argument("--state", choices=EXPORT_STATES, help="list the rows in this state")
    s.add_argument("--limit", type=_positive, default=50, help="rows listed (default 50)")
    s.set_defaults(run=_status)
    s = sub.add_parser("reconcile", help="what the platform holds of a period against ours")
    s.add_argument("--target", required=True, help="the target's name")
    s.add_argument("--period", required=True, help="2026Q4, 2026-11, 2026-11-23, ...")
    s.add_argument(
        "--requeue", action="store_true", help="send again what the platform lost (accepted)"
    )
    s.set_defaults(run=_reconcile)
    s = sub.add_parser("retry", help="rejected and failed records of a target: another round")
    s.add_argument("--target", required=True, help="the target's name")
    s.set_defaults(run=_retry)
    from simulator.province.cli import add_arguments

    s = sub.add_parser("platform", help="run the fake provincial platform (for tests, demos)")
    add_arguments(s)
    s.set_defaults(run=_platform)
