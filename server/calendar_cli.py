"""`hallrate calendar`: the working-day overrides from the State Council notice, the shipped
calendar data and the next-year check (docs/cases.md "Working days").

  hallrate calendar load FILE [--source TEXT] [--replace-year]
  hallrate calendar show [--year Y]
  hallrate calendar check --year Y      exit 1 when no data covers the year
  hallrate calendar check --next-year [--today DAY] [--shipped-only] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, extract, select
from sqlalchemy.orm import Session

from server.calendar import WorkingDays
from server.calendar_check import year_source
from server.calendar_file import (
    DATA_DIR,
    PENDING_FILE,
    CalendarFileError,
    Override,
    ShippedCalendar,
    load_shipped,
    parse_overrides,
)
from server.models.callbacks import CalendarDay

__all__ = ["CalendarFileError", "LoadResult", "Override", "main", "parse_overrides"]


@dataclass(frozen=True)
class LoadResult:
    added: int
    changed: int
    unchanged: int
    removed: int


def store_overrides(
    session: Session, overrides: list[Override], source: str, replace_year: bool
) -> LoadResult:
    """Upsert the days (a day already stored the same way is left alone); with
    ``replace_year``, the other stored days of the file's years are removed first."""
    years = sorted({o.day.year for o in overrides})
    days = {o.day for o in overrides}
    removed = 0
    if replace_year:
        stale = session.scalars(
            select(CalendarDay.day).where(extract("year", CalendarDay.day).in_(years))
        ).all()
        gone = [d for d in stale if d not in days]
        if gone:
            session.execute(delete(CalendarDay).where(CalendarDay.day.in_(gone)))
        removed = len(gone)
    stored = {row.day: row for row in session.scalars(select(CalendarDay))}
    added = changed = unchanged = 0
    now = datetime.now(UTC)
    for o in overrides:
        row = stored.get(o.day)
        if row is None:
            session.add(
                CalendarDay(day=o.day, working=o.working, name=o.name, source=source, loaded_at=now)
            )
            added += 1
        elif row.working == o.working and row.name == o.name:
            unchanged += 1
        else:
            row.working, row.name, row.source, row.loaded_at = o.working, o.name, source, now
            changed += 1
    session.commit()
    return LoadResult(added, changed, unchanged, removed)


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(
        prog="hallrate calendar",
        description="Working days: overrides from the State Council notice, the next-year check.",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    load = sub.add_parser("load", help="load holidays and 调休 working days from a CSV file")
    load.add_argument("file", type=Path)
    load.add_argument("--source", help="where the days come from (default: the file name)")
    load.add_argument(
        "--replace-year", action="store_true", help="remove other stored days of the file's years"
    )
    show = sub.add_parser("show", help="stored overrides and where each year's data comes from")
    show.add_argument("--year", type=_year)
    check = sub.add_parser(
        "check", help="exit 1 when no holiday data covers the year (or next year from 1 December)"
    )
    which = check.add_mutually_exclusive_group(required=True)
    which.add_argument("--year", type=_year, metavar="Y")
    which.add_argument(
        "--next-year",
        action="store_true",
        help="this year, and from 1 December next year, must be covered",
    )
    check.add_argument(
        "--today", type=_day, metavar="YYYY-MM-DD", help="with --next-year: the hall-local day"
    )
    check.add_argument(
        "--shipped-only",
        action="store_true",
        help="no database: the shipped calendar data and chinese-calendar (with --next-year: "
        "and the acknowledgements in pending.toml)",
    )
    check.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="the shipped calendar data directory (default: the package's calendar_data)",
    )
    return parser, check


def main(argv: Sequence[str] | None = None) -> int:
    parser, check = _parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.action == "check" and args.today is not None and not args.next_year:
        check.error("--today needs --next-year")

    overrides: list[Override] = []
    if args.action == "load":
        try:
            text = args.file.read_bytes().decode("utf-8")
            overrides = parse_overrides(text)
        except OSError as e:
            print(f"hallrate calendar: cannot read {args.file}: {e.strerror}", file=sys.stderr)
            return 2
        except UnicodeDecodeError:
            print(f"hallrate calendar: {args.file} is not UTF-8", file=sys.stderr)
            return 2
        except CalendarFileError as e:
            print(f"hallrate calendar: {args.file}: {e}", file=sys.stderr)
            return 2
        if args.source is not None and not 0 < len(args.source) <= 128:
            print("hallrate calendar: --source must be 1..128 characters", file=sys.stderr)
            return 2

    from server.db import make_engine, make_sessionmaker
    from server.policy import PolicyError, load_policy
    from server.settings_cli import load_settings

    settings = load_settings("calendar")
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as e:
        print(f"hallrate calendar: {e}", file=sys.stderr)
        return 2
    shipped: ShippedCalendar | None = None
    if args.action == "check":
        data_dir = args.data_dir or DATA_DIR
        if args.data_dir is not None and not data_dir.is_dir():
            print(f"hallrate calendar: --data-dir {data_dir} is not a directory", file=sys.stderr)
            return 2
        try:
            shipped = load_shipped(data_dir)
        except CalendarFileError as e:
            print(f"hallrate calendar: {e}", file=sys.stderr)
            return 2
        if args.shipped_only:
            return _check(args, policy, WorkingDays.from_policy(policy, {}, shipped))
    from server.migrate import schema_behind

    if reason := schema_behind(settings.resolved_database_url):
        print(f"hallrate calendar: {reason}", file=sys.stderr)
        return 2
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            if args.action == "load":
                return _load(session, policy, overrides, args)
            from server.calendar import working_days

            wd = working_days(session, policy, shipped)
            if args.action == "check":
                return _check(args, policy, wd)
            return _show(session, wd, args.year)
    finally:
        engine.dispose()


def _load(session: Session, policy: Any, overrides: list[Override], args: Any) -> int:
    res = store_overrides(session, overrides, args.source or args.file.name, args.replace_year)
    years = ", ".join(str(y) for y in sorted({o.day.year for o in overrides}))
    print(
        f"calendar {years}: added {res.added}, changed {res.changed}, "
        f"unchanged {res.unchanged}, removed {res.removed}"
    )
    from server.cases.tick import recompute_provisional

    # Cases whose deadlines were guessed (provisional) get them from the data now stored.
    print(f"recomputed {recompute_provisional(session, policy)} provisional case deadlines")
    return 0


def _check(args: Any, policy: Any, wd: WorkingDays) -> int:
    from server.calendar_check import PendingError, hall_today, load_pending, next_year_check

    if not args.next_year:
        print(f"{args.year}: {year_source(wd, args.year)}")
        return 1 if wd.provisional(date(args.year, 1, 1)) else 0
    today = args.today or hall_today(policy.timezone, datetime.now(UTC))
    data_dir = args.data_dir or DATA_DIR
    pending = None
    if args.shipped_only:
        try:
            pending = load_pending(data_dir / PENDING_FILE)
        except PendingError as e:
            print(f"hallrate calendar: {data_dir / PENDING_FILE}: {e}", file=sys.stderr)
            return 1
    res = next_year_check(wd, today, pending=pending, data_dir=data_dir)
    print("\n".join(res.out), flush=True)
    if res.err:
        print("\n".join(res.err), file=sys.stderr, flush=True)
    if res.verdict:
        print("\n".join(res.verdict))
    return res.code


def _show(session: Session, wd: WorkingDays, year: int | None) -> int:
    q = select(CalendarDay).order_by(CalendarDay.day)
    if year is not None:
        q = q.where(extract("year", CalendarDay.day) == year)
    rows = session.scalars(q).all()
    years = (
        [year]
        if year is not None
        else sorted({r.day.year for r in rows} | {date.today().year, date.today().year + 1})
    )
    for y in years:
        print(f"{y}: {year_source(wd, y)}")
    for r in rows:
        kind = "班 working" if r.working else "休 holiday"
        print(f"{r.day.isoformat()}  {kind}  {r.name}  ({r.source})")
    if not rows:
        print("no overrides stored" + (f" for {year}" if year is not None else ""))
    return 0


def _day(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _year(text: str) -> int:
    try:
        y = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year") from None
    if not 2000 <= y <= 2099:
        raise argparse.ArgumentTypeError("the year must be 2000..2099")
    return y
