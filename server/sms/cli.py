"""`hallrate sms`: send due rating texts, show and reconcile the outbox, keep the opt-out list
(docs/sms.md, "Operations"). The sender is this command, run by a timer or with --every; not a
worker inside `hallrate server` (docs/adr/0010-sms-worker.md)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.settings_cli import describe

if TYPE_CHECKING:
    from server.config import Settings
    from server.sms.provider import SmsProvider

ProviderFactory = Callable[["Settings"], "SmsProvider"]


class SenderSettings(BaseSettings):
    """HALLRATE_SMS_* of the sender (docs/sms.md, "Settings")."""

    model_config = SettingsConfigDict(env_prefix="HALLRATE_SMS_", extra="ignore")

    visibility_delay_seconds: float = Field(default=120, ge=0, le=86400)
    retry_base_seconds: float = Field(default=30, ge=0, le=3600)
    max_attempts: int = Field(default=5, ge=1, le=20)
    calls_per_second: float = Field(default=10, gt=0, le=1000)


def main(argv: Sequence[str] | None = None, provider_factory: ProviderFactory | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hallrate sms", description="The SMS rating channel.")
    sub = parser.add_subparsers(dest="action", required=True)
    from server.sms.platform_cli import add_platform_parser

    add_platform_parser(sub)
    send = sub.add_parser("send", help="reconcile, then select and send the texts due now")
    send.add_argument("--every", type=float, help="repeat every SECONDS until stopped")
    sub.add_parser("status", help="outbox counts by state, today's budget use, alerts")
    ob = sub.add_parser("outbox", help="list outbox rows (phones masked)")
    ob.add_argument("--day", type=_day, help="hall-local day YYYY-MM-DD (default: today)")
    from server.models.sms import SMS_STATES

    ob.add_argument("--state", choices=SMS_STATES, help="only rows in this state")
    ob.add_argument("--limit", type=_positive, default=100, help="rows, 1 or more (default 100)")
    rec = sub.add_parser("reconcile", help="delivery reports for sending and sent rows")
    rec.add_argument("--days", type=int, default=2, help="sent rows of this many days back")
    opt = sub.add_parser("opt-out", help="the opt-out list (退订)")
    opt_sub = opt.add_subparsers(dest="opt_action", required=True)
    add = opt_sub.add_parser("add", help="never text this number again")
    add.add_argument("phone")
    opt_sub.add_parser("list", help="list opted-out numbers (as hashes: no clear number is kept)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.action == "platform":  # no database: the platform is a stand-in for the provider
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        return int(args.func(args))

    from gateway.logs import setup

    setup()
    from server.db import make_engine, make_sessionmaker
    from server.policy import PolicyError, load_policy
    from server.settings_cli import load_settings

    settings = load_settings("sms")
    try:
        policy = load_policy(settings.policy_file)
        if args.action in ("send", "reconcile"):
            SenderSettings()  # HALLRATE_SMS_* of the sender: refused here, in one line
    except PolicyError as e:
        print(f"hallrate sms: {e}", file=sys.stderr)
        return 2
    except ValidationError as e:  # the sender's settings carry the HALLRATE_SMS_ prefix
        print(f"hallrate sms: {describe(e).replace('HALLRATE_', 'HALLRATE_SMS_')}", file=sys.stderr)
        return 2
    engine = make_engine(settings.resolved_database_url)
    sessions = make_sessionmaker(engine)
    try:
        if args.action == "status":
            return _status(sessions, policy)
        if args.action == "outbox":
            return _outbox(sessions, settings, policy, args.day, args.state, args.limit)
        if args.action == "opt-out":
            return _opt_out(sessions, settings, args)
        sender = _sender(sessions, settings, policy, provider_factory)
        if args.action == "reconcile":
            from server.sms.sender import RunReport

            report = RunReport()
            sender.reconcile_sending(report)
            today = sender.today(sender.clock())
            sent = sender.refresh_sent(today - timedelta(days=max(0, args.days - 1)))
            print(f"sending rows: {_kv(report.reconciled)}; sent rows: {_kv(sent)}")
            return 0
        since = datetime.now(UTC) - timedelta(days=2)  # overlap is harmless: replies dedupe
        while True:
            r = sender.run_once()
            replies = _pull_replies(sessions, sender.provider, since, settings, policy)
            print(
                f"reconciled {_kv(r.reconciled)}; expired {r.expired}; queued {r.enqueued}; "
                f"accepted {r.accepted}; refused {r.refused}; pending check {r.uncertain}; "
                f"skipped {_kv(r.skipped)}"
                + (f"; BUDGET REACHED: {', '.join(r.budget_reached)}" if r.budget_reached else "")
                + f"; replies {replies}",
                flush=True,
            )
            if not args.every:
                return 0
            time.sleep(args.every)
    finally:
        engine.dispose()


def _pull_replies(sessions: Any, provider: Any, since: datetime, settings: Any, policy: Any) -> str:
    """The pull step of reply intake (docs/sms.md, Replies): the provider's replies since
    ``since``, stored once each (a reply also pushed to the callback route is a retry)."""
    from server.sms.errors import ProviderError
    from server.sms.intake import intake

    try:
        with sessions() as session:
            res = intake(session, provider, since, settings=settings, policy=policy)
    except ProviderError as e:
        return f"not pulled ({e})"
    return f"new {res.stored}, again {res.retried}" + (
        f" ({_kv(dict(res.outcomes))})" if res.outcomes else ""
    )


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return n


def _kv(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def _sender(sessions: Any, settings: Settings, policy: Any, factory: ProviderFactory | None) -> Any:
    from server.sms.outbox import Timing
    from server.sms.sender import Sender

    if factory is None:
        try:
            from server.sms.providers import make_provider
        except ModuleNotFoundError:
            print("hallrate sms: no provider adapters installed (server/sms/providers.py)")
            raise SystemExit(2) from None
        from server.sms.providers import SmsSettings

        try:  # HALLRATE_SMS_PROVIDER, _ENDPOINT, … (docs/sms.md)
            provider = make_provider(SmsSettings())
        except ValidationError as e:
            print(f"hallrate sms: {describe(e)}", file=sys.stderr)
            raise SystemExit(2) from None
        except ValueError as e:  # a provider without its credentials
            print(f"hallrate sms: {e}", file=sys.stderr)
            raise SystemExit(2) from None
    else:
        provider = factory(settings)
    s = SenderSettings()
    timing = Timing(
        visibility_delay=timedelta(seconds=s.visibility_delay_seconds),
        retry_base=timedelta(seconds=s.retry_base_seconds),
        max_attempts=s.max_attempts,
    )
    return Sender(
        sessions,
        provider,
        policy,
        settings.phone_cipher,
        timing,
        min_call_interval=1.0 / s.calls_per_second,
    )


def _status(sessions: Any, policy: Any) -> int:
    from server.sms.status import status

    with sessions() as session:
        st = status(session, policy, datetime.now(UTC))
    print(f"day {st.day} (policy {policy.name}, {policy.timezone})")
    print("outbox today: " + ", ".join(f"{k} {v}" for k, v in st.today.items()))
    print("outbox all days: " + ", ".join(f"{k} {v}" for k, v in st.total.items()))
    print(f"replies: {st.replies}; opted out: {st.opt_outs}")
    for hall, used in st.budget.items():
        print(f"budget {hall}: {used}/{policy.sms.daily_budget} texts today")
    for alert in st.alerts:
        print(f"ALERT {alert}")
    return 0


def _outbox(
    sessions: Any,
    settings: Settings,
    policy: Any,
    day: date | None,
    state: str | None,
    limit: int,
) -> int:
    from sqlalchemy import select

    from server.models import Hall, SmsMessage, Ticket

    day = day or datetime.now(UTC).astimezone(policy.tzinfo).date()
    cipher = settings.phone_cipher
    q = (
        select(SmsMessage, Hall.code, Ticket.number)
        .join(Hall, Hall.id == SmsMessage.hall_id)
        .join(Ticket, Ticket.id == SmsMessage.ticket_id)
        .where(SmsMessage.local_day == day)
        .order_by(SmsMessage.id)
        .limit(limit)
    )
    if state:
        q = q.where(SmsMessage.state == state)
    print("out_id\thall\tticket\tphone\tstate\tattempts\tsent_at\tlast_error")
    with sessions() as session:
        for m, hall, number in session.execute(q).all():
            sent = m.sent_at.astimezone(policy.tzinfo).isoformat() if m.sent_at else "-"
            print(
                f"{m.out_id}\t{hall}\t{number}\t{cipher.masked(m.phone_enc) or '-'}\t{m.state}\t"
                f"{m.attempts}\t{sent}\t{m.last_error or ''}"
            )
    return 0


def _opt_out(sessions: Any, settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from server.models import SmsOptOut
    from server.personal import mask_phone, phone_digits

    if args.opt_action == "add":
        digits = phone_digits(args.phone)
        if not 5 <= len(digits) <= 20:
            print(f"hallrate sms opt-out add: {mask_phone(args.phone)} is not a phone number")
            return 2
        with sessions() as session:
            session.add(SmsOptOut(phone_hash=settings.phone_cipher.digest(digits), source="cli"))
            try:
                session.commit()
                print(f"opted out: {mask_phone(digits)}")
            except IntegrityError:
                session.rollback()
                print(f"already opted out: {mask_phone(digits)}")
        return 0
    with sessions() as session:
        rows = session.scalars(select(SmsOptOut).order_by(SmsOptOut.id)).all()
        print("since\tsource\tphone_hash (first 12)")
        for r in rows:
            print(f"{r.created_at.isoformat()}\t{r.source}\t{r.phone_hash[:12]}")
    return 0


if __name__ == "__main__":
    logging.basicConfig()
    sys.exit(main())
