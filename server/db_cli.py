"""`hallrate db`: apply or inspect the Alembic migrations of the server database, purge
citizens' phone numbers past their retention, and recompute the aggregate tables."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date
from typing import Any


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hallrate db", description="Server database migrations.")
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("upgrade", help="migrate the database to the newest schema (idempotent)")
    up.add_argument(
        "--database-url", help="default: HALLRATE_DATABASE_URL or the SQLite file in the data dir"
    )
    up.add_argument("--revision", default="head", help="target revision (default: %(default)s)")
    cur = sub.add_parser("current", help="show the revision the database is at")
    cur.add_argument("--database-url")
    purge = sub.add_parser(
        "purge-personal-data",
        help="delete citizens' phone numbers of tickets and SMS texts older than the retention",
        description="Delete the encrypted phone number and its hash from every ticket and SMS "
        "text of a hall-local day before --before (default: today minus "
        "HALLRATE_PHONE_RETENTION_DAYS), and the phone hash of every SMS reply received before "
        "that day. The tickets, texts, replies, the opt-out list and the audit of phone reads "
        "stay.",
    )
    purge.add_argument("--database-url")
    purge.add_argument("--before", type=_day, help="first day kept, YYYY-MM-DD")
    purge.add_argument("--dry-run", action="store_true", help="count only; delete nothing")
    rebuild = sub.add_parser(
        "rebuild-aggregates",
        help="recompute the daily, monthly and hourly counts from the evaluations",
        description="Recompute every aggregate grain (evaluation_daily_counts, _monthly_counts, "
        "_hourly_counts) from the evaluations, in one transaction, the hours in HALLRATE_TZ "
        "(the policy time zone). Run it once after `hallrate db upgrade` to 0013 when the "
        "zone is not Asia/Shanghai, and to repair the tables. Writers wait while it runs.",
    )
    rebuild.add_argument("--database-url")
    args = parser.parse_args(list(argv) if argv is not None else None)

    import sys

    from server.settings_cli import load_settings

    settings = load_settings(f"db {args.action}", sys.stdout)
    url = args.database_url or settings.resolved_database_url
    if args.action == "purge-personal-data":
        return _purge(url, args.before, args.dry_run, settings)
    if args.action == "rebuild-aggregates":
        return _rebuild(url, settings)
    if url.startswith("sqlite:///"):
        from pathlib import Path

        from server.db import private_dir

        private_dir(Path(url.removeprefix("sqlite:///")).parent)
    from alembic import command

    from server.migrate import alembic_config, upgrade

    if args.action == "upgrade":
        upgrade(url, args.revision)
        print(f"database at {args.revision}: {_redact(url)}")
    else:
        command.current(alembic_config(url), verbose=False)
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def _purge(url: str, before: date | None, dry_run: bool, settings: Any) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from server.db import describe_db_error, make_engine, make_sessionmaker, missing_sqlite_file
    from server.purge import default_before, purge_phones

    if missing := missing_sqlite_file(url):
        print(
            f"hallrate db purge-personal-data: no database file {missing} "
            "(nothing to purge; is the URL right? `hallrate db upgrade` creates it)"
        )
        return 2
    if before is None:
        before = default_before(settings.phone_retention_days, settings.tz)
        why = f"retention {settings.phone_retention_days} days"
    else:
        why = "--before"
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            result = purge_phones(session, before, dry_run, settings.tz)
    except SQLAlchemyError as exc:
        print(f"hallrate db purge-personal-data: database error: {describe_db_error(exc)}")
        return 2
    finally:
        engine.dispose()
    verb = "would purge" if dry_run else "purged"
    print(
        f"{verb} the phone numbers of {result.purged} tickets before {result.before} ({why}); "
        f"{result.kept} tickets from {result.before} on keep theirs"
    )
    print(
        f"{verb} the phone numbers of {result.sms_texts} SMS texts and the phone hashes of "
        f"{result.sms_replies} SMS replies before {result.before}"
    )
    print(
        f"{verb} the phone numbers of {result.cases} cases closed before {result.before}; "
        f"{result.open_cases} open cases keep theirs"
    )
    return 0


def _rebuild(url: str, settings: Any) -> int:
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from server import aggregates
    from server.db import (
        begin_write,
        describe_db_error,
        make_engine,
        make_sessionmaker,
        missing_sqlite_file,
    )
    from server.migrate import schema_behind
    from server.models import DailyCount, Evaluation, HourlyCount, MonthlyCount
    from server.policy import PolicyError, load_policy

    name = "hallrate db rebuild-aggregates"
    if missing := missing_sqlite_file(url):
        print(f"{name}: no database file {missing} (`hallrate db upgrade` creates it)")
        return 2
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as exc:
        print(f"{name}: {exc}")
        return 2
    if policy.timezone != settings.tz:
        print(
            f"{name}: policy timezone {policy.timezone} differs from HALLRATE_TZ {settings.tz}; "
            "local days are stored in one zone, so they must agree"
        )
        return 2
    engine = make_engine(url)
    try:
        if reason := schema_behind(url):
            print(f"{name}: {reason}")
            return 2
        with make_sessionmaker(engine)() as session:
            begin_write(session)
            aggregates.rebuild(session, settings.tz)
            session.commit()
            n = {
                m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
                for m in (Evaluation, DailyCount, MonthlyCount, HourlyCount)
            }
    except SQLAlchemyError as exc:
        print(f"{name}: database error: {describe_db_error(exc)}")
        return 2
    finally:
        engine.dispose()
    print(
        f"rebuilt the aggregates of {n['evaluations']} evaluations (hours in {settings.tz}): "
        f"{n['evaluation_daily_counts']} daily, {n['evaluation_monthly_counts']} monthly, "
        f"{n['evaluation_hourly_counts']} hourly rows: {_redact(url)}"
    )
    return 0


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
