"""The calendar CSV (holidays and 调休 working days from the State Council notice), and the shipped
calendar data: one ``<year>.csv`` per year in server/calendar_data/ (docs/cases.md "Working days").

Pure reading; storing the days is server/calendar_cli.py, using them is server/calendar.py.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

DATE_COLUMNS = ("日期", "date")
TYPE_COLUMNS = ("类型", "type")
NAME_COLUMNS = ("名称", "name")
TYPES = {"休": False, "holiday": False, "班": True, "working": True}
MAX_NAME = 64
_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_YEAR_FILE = re.compile(r"^(\d{4})\.csv$")

# The calendar data shipped with the package (a release can carry a year chinese-calendar lacks).
DATA_DIR = Path(__file__).resolve().parent / "calendar_data"
PENDING_FILE = "pending.toml"


class CalendarFileError(ValueError):
    """A file that cannot be loaded; the message names the row."""


@dataclass(frozen=True)
class Override:
    day: date
    working: bool
    name: str


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


@dataclass(frozen=True)
class ShippedCalendar:
    """The days of the shipped ``<year>.csv`` files. A year with a file is covered by it alone,
    as a year of the overrides table is (a listed day as listed, any other day Mon-Fri)."""

    days: Mapping[date, bool] = field(default_factory=dict, hash=False, compare=False)
    years: frozenset[int] = frozenset()
    directory: Path | None = None


def load_shipped(directory: Path) -> ShippedCalendar:
    """Read every ``<year>.csv`` of ``directory`` (a missing directory holds none). Raises
    CalendarFileError naming the file for a bad file, a ``.csv`` not named ``<year>.csv``, or
    a day outside the file's year."""
    days: dict[date, bool] = {}
    years: set[int] = set()
    files = sorted(directory.glob("*.csv")) if directory.is_dir() else []
    for path in files:
        m = _YEAR_FILE.match(path.name)
        if m is None:
            raise CalendarFileError(f"{path}: a calendar data file is named <year>.csv")
        year = int(m.group(1))
        try:
            rows = parse_overrides(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            raise CalendarFileError(f"{path}: not UTF-8") from None
        except CalendarFileError as e:
            raise CalendarFileError(f"{path}: {e}") from None
        for row in rows:
            if row.day.year != year:
                raise CalendarFileError(f"{path}: {row.day} is not in {year}")
            days[row.day] = row.working
        years.add(year)
    return ShippedCalendar(days, frozenset(years), directory)


@lru_cache(maxsize=1)
def packaged() -> ShippedCalendar:
    """The calendar data shipped in server/calendar_data/ (read once per process)."""
    return load_shipped(DATA_DIR)
