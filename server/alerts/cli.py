"""`hallrate alerts`: deliver pending alerts, list alerts, keep a hall's webhook and SMS targets
(docs/cases.md "Alerts" and "Command line")."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.models.cases import ALERT_CHANNELS, ALERT_EVENTS, ALERT_STATES
from server.policy import Policy

PROG = "hallrate alerts"


@dataclass(frozen=True)
class Context:
    sessions: sessionmaker[Session]
    policy: Policy


def _err(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def _seconds(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.1 <= n <= 86400:
        raise argparse.ArgumentTypeError("--every must be 0.1..86400 seconds")
    return n


def _id(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a target id (a positive number)")
    return int(text)


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 10000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a limit (1..10000)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Alerts to the hall's duty manager (差评, 即将到期, 已超期, 督办)."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    d = sub.add_parser("deliver", help="send the webhook and SMS alerts that are due")
    d.add_argument("--every", type=_seconds, help="repeat every SECONDS until stopped")
    d.set_defaults(func=_deliver)
    ls = sub.add_parser("list", help="alerts, newest first")
    ls.add_argument("--hall", help="hall code (default: every hall)")
    ls.add_argument("--state", choices=ALERT_STATES)
    ls.add_argument("--event", choices=ALERT_EVENTS)
    ls.add_argument("--channel", choices=ALERT_CHANNELS)
    ls.add_argument("--limit", type=_limit, default=50, help="rows, 1..10000 (default 50)")
    ls.add_argument("--json", action="store_true", help="one JSON document")
    ls.set_defaults(func=_list)
    t = sub.add_parser("target", help="a hall's webhook and SMS targets")
    tsub = t.add_subparsers(dest="target_action", required=True)
    add = tsub.add_parser("add", help="add a webhook URL or a mobile number")
    add.add_argument("--hall", required=True, help="hall code")
    to = add.add_mutually_exclusive_group(required=True)
    to.add_argument("--webhook", metavar="URL", help="http:// or https:// URL")
    to.add_argument("--sms", metavar="PHONE", help="11-digit mobile number")
    add.add_argument("--secret", default="", help="webhook only: HMAC-SHA256 key")
    add.add_argument("--name", default="", help="who it reaches, e.g. 值班长")
    add.set_defaults(func=_target_add)
    tl = tsub.add_parser("list", help="list targets (secrets never shown)")
    tl.add_argument("--hall", help="hall code (default: every hall)")
    tl.set_defaults(func=_target_list)
    rm = tsub.add_parser("remove", help="remove a target")
    rm.add_argument("id", type=_id)
    rm.set_defaults(func=_target_remove)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    from server.db import make_engine, make_sessionmaker
    from server.migrate import schema_behind
    from server.policy import PolicyError, load_policy
    from server.settings_cli import load_settings

    settings = load_settings("alerts")
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as e:
        return _err(str(e))
    if reason := schema_behind(settings.resolved_database_url):
        return _err(reason)
    engine = make_engine(settings.resolved_database_url)
    try:
        return int(args.func(args, Context(make_sessionmaker(engine), policy)))
    finally:
        engine.dispose()


def _hall_id(session: Session, code: str | None) -> tuple[int, ...] | str | None:
    """(hall id,) for a code, None for no code, or the error message."""
    from server.models.org import Hall

    if code is None:
        return None
    hall_id = session.scalar(select(Hall.id).where(Hall.code == code))
    return f"unknown hall {code!r}" if hall_id is None else (hall_id,)


def _deliver(args: argparse.Namespace, ctx: Context) -> int:
    from server.alerts.delivery import Deliverer
    from server.alerts.worker import load_alert_settings, sms_provider

    try:
        conf = load_alert_settings()
    except ValueError as e:
        return _err(str(e))
    deliverer = Deliverer(ctx.sessions, ctx.policy, sms=lambda: sms_provider(conf))
    stop = threading.Event()
    if args.every:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    try:
        while True:
            report = deliverer.run_once()
            print(str(report), flush=True)
            for line in report.errors[:20]:
                print(f"  {line}", flush=True)
            if not args.every or stop.wait(args.every):
                return 0
    finally:
        deliverer.close()


def _iso(value: object) -> str:
    """Instants as the API writes them (ISO 8601, UTC, ``Z``)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def _list(args: argparse.Namespace, ctx: Context) -> int:
    from server.alerts.listing import AlertFilter, list_alerts

    with ctx.sessions() as session:
        halls = _hall_id(session, args.hall)
        if isinstance(halls, str):
            return _err(halls)
        f = AlertFilter(halls, args.state, args.event, args.channel)
        items = list_alerts(session, f, limit=args.limit)
    if args.json:
        print(json.dumps({"items": items}, ensure_ascii=False, default=_iso, indent=2))
        return 0
    for a in items:
        extra = f" attempts {a['attempts']}" if a["channel"] != "dashboard" else ""
        if a["last_error"]:
            extra += f" last error: {a['last_error']}"
        print(
            f"{a['id']}  {a['created_at']:%Y-%m-%d %H:%M}Z  {a['hall']}  {a['event']}  "
            f"{a['channel']}  {a['state']}{extra}  {a['title']}"
        )
    if not items:
        print("no alerts")
    return 0


def _target_add(args: argparse.Namespace, ctx: Context) -> int:
    from server.alerts.targets import TargetError, add_target, target_out
    from server.db import begin_write
    from server.models.org import Hall

    channel, address = ("webhook", args.webhook) if args.webhook else ("sms", args.sms)
    with ctx.sessions() as session:
        begin_write(session)
        hall = session.scalars(select(Hall).where(Hall.code == args.hall)).first()
        if hall is None:
            return _err(f"unknown hall {args.hall!r}")
        try:
            target = add_target(session, hall, channel, address, name=args.name, secret=args.secret)
        except TargetError as e:
            return _err(str(e))
        session.commit()
        print(_target_line(target_out(target, hall.code)))
    return 0


def _target_line(t: dict[str, Any]) -> str:
    secret = f" secret {t['secret_hint']}" if t["secret_set"] else ""
    state = "" if t["active"] else " (inactive)"
    name = f" {t['name']}" if t["name"] else ""
    return f"{t['id']}  {t['hall']}  {t['channel']}  {t['address']}{name}{secret}{state}"


def _target_list(args: argparse.Namespace, ctx: Context) -> int:
    from server.alerts.targets import target_out
    from server.models.cases import AlertTarget
    from server.models.org import Hall

    with ctx.sessions() as session:
        halls = _hall_id(session, args.hall)
        if isinstance(halls, str):
            return _err(halls)
        q = select(AlertTarget, Hall.code).join(Hall, Hall.id == AlertTarget.hall_id)
        if halls is not None:
            q = q.where(AlertTarget.hall_id.in_(halls))
        rows = session.execute(q.order_by(Hall.code, AlertTarget.id)).all()
        for target, code in rows:
            print(_target_line(target_out(target, code)))
    if not rows:
        print("no alert targets")
    return 0


def _target_remove(args: argparse.Namespace, ctx: Context) -> int:
    from server.db import begin_write
    from server.models.cases import AlertTarget

    with ctx.sessions() as session:
        begin_write(session)
        target = session.get(AlertTarget, args.id)
        if target is None:
            return _err(f"no alert target {args.id}")
        session.delete(target)
        session.commit()
    print(f"removed alert target {args.id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
