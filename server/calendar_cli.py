"""`hallrate calendar`: the working-day overrides from the State Council notice
(docs/phone-callbacks.md "Working days").

  hallrate calendar load FILE [--source TEXT] [--replace-year]
  hallrate calendar show [--year Y]
  hallrate calendar check --year Y      exit 1 when no data covers the year
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import delete, extract, select
from sqlalchemy.orm import Session

from server.calendar import WorkingDays
from server.models.callbacks import CalendarDay

DATE_COLUMNS = ("日期", "date")
TYPE_COLUMNS = ("类型", "type")
NAME_COLUMNS = ("名称", "name")
TYPES = {"休": False, "holiday": False, "班": True, "working": True}
MAX_NAME = 64
_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")


class CalendarFileError(ValueError):
    """A file that cannot be loaded; the message names the row."""


@dataclass(frozen=True)
class Override:
    day: date
    working: bool
    name: str


@dataclass(frozen=True)
class LoadResult:
    added: int
    changed: int
    unchanged: int
    removed: int


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    for i, cell in enumerate(header):
        if cell.strip().lower() in names:
            return i
    return None


def parse_overrides(text: str) -> list[Override]:
    """Rows of a calendar CSV (UTF-8, BOM allowed; lines starting with # are comments)."""
    lines = [
        (n, line)
        for n, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise CalendarFileError("the file has no header row (日期,类型[,名称])")
    rows = list(csv.reader(io.StringIO("\n".join(line for _, line in lines))))
    header, body = rows[0], rows[1:]
    date_col, type_col = _column(header, DATE_COLUMNS), _column(header, TYPE_COLUMNS)
    name_col = _column(header, NAME_COLUMNS)
    if date_col is None or type_col is None:
        raise CalendarFileError(
            f"line {lines[0][0]}: the header needs columns 日期 (or date) and 类型 (or type)"
        )
    seen: dict[date, int] = {}
    out = []
    for (line_no, _), row in zip(lines[1:], body, strict=False):
        where = f"line {line_no}"
        cells = [c.strip() for c in row]
        if len(cells) <= max(date_col, type_col):
            raise CalendarFileError(f"{where}: needs a date and a type")
        m = _DATE.match(cells[date_col])
        try:
            if m is None:
                raise ValueError
            day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise CalendarFileError(
                f"{where}: {cells[date_col]!r} is not a date YYYY-MM-DD"
            ) from None
        kind = cells[type_col].lower()
        if kind not in TYPES:
            raise CalendarFileError(
                f"{where}: type {cells[type_col]!r} is not 休/holiday or 班/working"
            )
        name = cells[name_col] if name_col is not None and name_col < len(cells) else ""
        if len(name) > MAX_NAME:
            raise CalendarFileError(f"{where}: name longer than {MAX_NAME} characters")
        if day in seen:
            raise CalendarFileError(f"{where}: {day} is already on line {seen[day]}")
        seen[day] = line_no
        out.append(Override(day, TYPES[kind], name))
    if not out:
        raise CalendarFileError("the file has a header but no days")
    return out


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


def year_source(wd: WorkingDays, year: int) -> str:
    src = wd.source(date(year, 1, 1))
    return {
        "overrides": "overrides (calendar_days)",
        "chinese-calendar": "chinese-calendar",
        "weekdays": "weekdays",
        "provisional": "provisional (no holiday data: Mon-Fri assumed)",
    }[src]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hallrate calendar", description="Working-day overrides (State Council notice)."
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
    check = sub.add_parser("check", help="exit 1 when no holiday data covers the year")
    check.add_argument("--year", type=_year, required=True)
    args = parser.parse_args(list(argv) if argv is not None else None)

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
    from server.migrate import schema_behind

    if reason := schema_behind(settings.resolved_database_url):
        print(f"hallrate calendar: {reason}", file=sys.stderr)
        return 2
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            if args.action == "load":
                res = store_overrides(
                    session, overrides, args.source or args.file.name, args.replace_year
                )
                years = ", ".join(str(y) for y in sorted({o.day.year for o in overrides}))
                print(
                    f"calendar {years}: added {res.added}, changed {res.changed}, "
                    f"unchanged {res.unchanged}, removed {res.removed}"
                )
                return 0
            from server.calendar import working_days

            wd = working_days(session, policy)
            if args.action == "check":
                src = wd.source(date(args.year, 1, 1))
                print(f"{args.year}: {year_source(wd, args.year)}")
                return 1 if src == "provisional" else 0
            return _show(session, wd, args.year)
    finally:
        engine.dispose()


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


def _year(text: str) -> int:
    try:
        y = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year") from None
    if not 2000 <= y <= 2099:
        raise argparse.ArgumentTypeError("the year must be 2000..2099")
    return y
