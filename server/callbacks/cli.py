"""`hallrate callbacks`: draw, list, show and verify worklists; the daily-list worker
(docs/phone-callbacks.md "Command line").

Each subcommand registers a ``func(args, ctx) -> int``; other modules of the channel add theirs
through ``register(subparsers)`` (listed in ``EXTRA_MODULES``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from server.policy import Policy

# Modules with register(subparsers) adding more `hallrate callbacks` subcommands.
EXTRA_MODULES: tuple[str, ...] = ("server.callbacks.cli_exchange",)


@dataclass(frozen=True)
class Context:
    sessions: sessionmaker[Session]
    policy: Policy
    settings: Any


def _err(message: str) -> int:
    print(f"hallrate callbacks: {message}", file=sys.stderr)
    return 2


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def _worklist_id(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a worklist id") from None
    if not 1 <= n <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a worklist id")
    return n


def _seconds(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 1 <= n <= 86400:
        raise argparse.ArgumentTypeError("--every must be 1..86400 seconds")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hallrate callbacks", description="Phone call-backs (电话回访): worklists."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    d = sub.add_parser("draw", help="draw a hall's daily list or period sample (or show it)")
    d.add_argument("--hall", required=True)
    which = d.add_mutually_exclusive_group(required=True)
    which.add_argument("--day", type=_day, help="daily list of this work day (YYYY-MM-DD)")
    which.add_argument("--period", help="sample of this month or quarter (2026-11, 2026Q4)")
    d.add_argument("--seed", help="32 hexadecimal characters (default: random)")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=_draw)
    ls = sub.add_parser("list", help="a hall's worklists, by work day")
    ls.add_argument("--hall", required=True)
    ls.add_argument("--from", dest="start", type=_day, help="first work day")
    ls.add_argument("--to", dest="end", type=_day, help="last work day")
    ls.set_defaults(func=_list)
    sh = sub.add_parser("show", help="one worklist")
    sh.add_argument("id", type=_worklist_id)
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=_show)
    v = sub.add_parser("verify", help="redraw from the stored frame and seed: exit 0 matches")
    v.add_argument("id", type=_worklist_id)
    v.set_defaults(func=_verify)
    w = sub.add_parser("worker", help="draw the daily lists that are due (once, or --every)")
    w.add_argument("--every", type=_seconds, help="repeat every SECONDS until stopped")
    w.set_defaults(func=_worker)
    for name in EXTRA_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    from server.db import make_engine, make_sessionmaker
    from server.policy import PolicyError, load_policy
    from server.settings_cli import load_settings

    settings = load_settings("callbacks")
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as e:
        return _err(str(e))
    from server.migrate import schema_behind

    if reason := schema_behind(settings.resolved_database_url):
        print(f"hallrate callbacks: {reason}", file=sys.stderr)
        return 2
    engine = make_engine(settings.resolved_database_url)
    try:
        return int(args.func(args, Context(make_sessionmaker(engine), policy, settings)))
    finally:
        engine.dispose()


def _print_worklist(view: dict[str, Any], as_json: bool, created: bool | None = None) -> None:
    if as_json:
        out = dict(view) if created is None else {**view, "created": created}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return
    state = "" if created is None else ("drawn" if created else "already drawn") + ": "
    print(
        f"{state}worklist {view['id']} {view['key']}: {view['planned']} planned, "
        f"{view['reserves']} reserves; tickets of {view['served_from']}..{view['served_to']}; "
        f"work day {view['work_day']}; due {view['due_at']}"
        + ("; CALENDAR PROVISIONAL" if view["calendar_provisional"] else "")
    )
    counts = ", ".join(f"{k} {n}" for k, n in view["counts"].items())
    excluded = ", ".join(f"{k} {n}" for k, n in view["excluded"].items()) or "none"
    print(f"entries: {counts}; excluded: {excluded}; seed {view['seed']}")


def _draw(args: argparse.Namespace, ctx: Context) -> int:
    from server.callbacks.draw import DrawError, draw_worklist
    from server.callbacks.sampling import Kind
    from server.callbacks.verify import worklist_view

    kind: Kind = "daily" if args.day is not None else "sample"
    with ctx.sessions() as session:
        try:
            res = draw_worklist(
                session,
                args.hall,
                kind,
                args.day if args.day is not None else args.period,
                policy=ctx.policy,
                now=datetime.now(UTC),
                seed=args.seed,
                created_by="cli",
            )
        except DrawError as e:
            return _err(str(e))
        _print_worklist(worklist_view(session, res.worklist), args.json, res.created)
    return 0


def _list(args: argparse.Namespace, ctx: Context) -> int:
    from sqlalchemy import select

    from server.models import Hall
    from server.models.callbacks import CallbackWorklist

    with ctx.sessions() as session:
        hall = session.scalars(select(Hall).where(Hall.code == args.hall)).first()
        if hall is None:
            return _err(f"unknown hall {args.hall!r}")
        q = select(CallbackWorklist).where(CallbackWorklist.hall_id == hall.id)
        if args.start:
            q = q.where(CallbackWorklist.work_day >= args.start)
        if args.end:
            q = q.where(CallbackWorklist.work_day <= args.end)
        print("id\tkey\twork_day\tplanned\treserves\tdue_at\tprovisional")
        for wl in session.scalars(q.order_by(CallbackWorklist.work_day, CallbackWorklist.id)):
            print(
                f"{wl.id}\t{wl.key}\t{wl.work_day}\t{wl.planned}\t{wl.reserves}\t"
                f"{wl.due_at.isoformat()}\t{'yes' if wl.calendar_provisional else 'no'}"
            )
    return 0


def _show(args: argparse.Namespace, ctx: Context) -> int:
    from server.callbacks.verify import worklist_view
    from server.models.callbacks import CallbackWorklist

    with ctx.sessions() as session:
        wl = session.get(CallbackWorklist, args.id)
        if wl is None:
            return _err(f"no worklist {args.id}")
        _print_worklist(worklist_view(session, wl), args.json)
    return 0


def _verify(args: argparse.Namespace, ctx: Context) -> int:
    from server.callbacks.verify import verify_worklist

    with ctx.sessions() as session:
        res = verify_worklist(session, args.id)
    if res is None:
        return _err(f"no worklist {args.id}")
    if res["matches"]:
        print(f"worklist {args.id}: matches (seed {res['seed']}, frame {res['frame_sha256']})")
        return 0
    print(f"worklist {args.id}: DIFFERS")
    for line in res["differences"]:
        print(f"  {line}")
    return 1


def _worker(args: argparse.Namespace, ctx: Context) -> int:
    from server.callbacks.worker import run_once

    while True:
        for line in run_once(ctx.sessions, ctx.policy, datetime.now(UTC)):
            print(line, flush=True)
        if not args.every:
            return 0
        time.sleep(args.every)


if __name__ == "__main__":
    sys.exit(main())
