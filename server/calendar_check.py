"""`hallrate calendar check --next-year`: from 1 December of year Y, year Y+1 must be covered by
holiday data, and year Y always (docs/cases.md "Working days", docs/adr/0020).

With ``--shipped-only`` (the release check that CI runs) a year may instead be acknowledged as
pending in server/calendar_data/pending.toml: a dated entry with a reason that ends within 31
days and within its year. Pure functions apart from reading pending.toml.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from server.calendar import WorkingDays

# From this day of year Y (hall-local), year Y+1 must be covered.
REQUIRED_FROM = (12, 1)
# An acknowledgement lasts at most this many days after it was checked, and never past the
# 31 December of the year it was checked in.
MAX_PENDING_DAYS = 31
MAX_REASON = 500
_KEYS = ("year", "reason", "checked", "until")

SOURCE_TEXT = {
    "overrides": "overrides (calendar_days)",
    "chinese-calendar": "chinese-calendar",
    "weekdays": "weekdays",
    "provisional": "provisional (no holiday data: Mon-Fri assumed)",
}


def year_source(wd: WorkingDays, year: int) -> str:
    """The line `hallrate calendar show/check` prints after "<year>: "."""
    src = wd.source(date(year, 1, 1))
    if src == "shipped":
        return f"shipped ({year}.csv)"
    return SOURCE_TEXT[src]


def hall_today(timezone: str, now: datetime) -> date:
    """The hall-local day of the instant ``now`` (policy ``timezone``)."""
    return now.astimezone(ZoneInfo(timezone)).date()


class PendingError(ValueError):
    """pending.toml or one of its entries is refused; the message names the entry."""


@dataclass(frozen=True)
class Pending:
    """A year whose State Council notice the project does not have yet, acknowledged by a person
    on ``checked`` until ``until``: in effect from ``checked`` through ``until``."""

    year: int
    reason: str
    checked: date
    until: date


def _date(value: Any, key: str, where: str) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PendingError(f"{where}: {key} must be a date YYYY-MM-DD, not {value!r}")


def parse_pending(data: dict[str, Any]) -> list[Pending]:
    """The entries of a parsed pending.toml (``[[pending]]`` tables); every entry is checked,
    whichever year it names."""
    extra = sorted(set(data) - {"pending"})
    if extra:
        raise PendingError(f"unknown table or key {extra[0]!r} (only [[pending]] entries)")
    entries = data.get("pending", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise PendingError("pending must be a list of [[pending]] tables")
    out: list[Pending] = []
    for n, entry in enumerate(entries, start=1):
        where = f"entry {n}"
        unknown = sorted(set(entry) - set(_KEYS))
        if unknown:
            raise PendingError(f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(_KEYS)})")
        year = entry.get("year")
        if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2099:
            raise PendingError(f"{where}: year must be a year 2000..2099")
        where = f"entry {n} (year {year})"
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise PendingError(f"{where}: reason is missing (say why the data is not there)")
        if len(reason) > MAX_REASON:
            raise PendingError(f"{where}: reason longer than {MAX_REASON} characters")
        for key in ("checked", "until"):
            if key not in entry:
                raise PendingError(f"{where}: {key} is missing")
        checked = _date(entry["checked"], "checked", where)
        until = _date(entry["until"], "until", where)
        if year not in (checked.year, checked.year + 1):
            raise PendingError(
                f"{where}: {year} is neither {checked.year}, the year of checked, nor the next"
            )
        if until < checked:
            raise PendingError(f"{where}: until {until} is before checked {checked}")
        if until > date(checked.year, 12, 31):
            raise PendingError(
                f"{where}: until {until} is later than 31 December {checked.year} "
                "(an acknowledgement ends within the year it is made)"
            )
        if until > checked + timedelta(days=MAX_PENDING_DAYS):
            raise PendingError(
                f"{where}: until {until} is more than {MAX_PENDING_DAYS} days after checked "
                f"{checked}"
            )
        if any(p.year == year for p in out):
            raise PendingError(f"{where}: {year} is listed twice")
        out.append(Pending(year, reason.strip(), checked, until))
    return out


def load_pending(path: Path) -> list[Pending]:
    """The entries of ``path``; a missing file has none. Raises PendingError."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as e:
        raise PendingError(f"cannot read it: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PendingError(f"not valid TOML: {e}") from None
    return parse_pending(data)


@dataclass
class CheckResult:
    """Printed in this order: ``out`` (stdout), ``err`` (stderr), ``verdict`` (stdout)."""

    code: int
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    verdict: list[str] = field(default_factory=list)


def next_year_check(
    wd: WorkingDays,
    today: date,
    *,
    pending: list[Pending] | None = None,
    data_dir: Path | None = None,
) -> CheckResult:
    """The verdict of `check --next-year` on ``today`` (hall-local). ``pending`` is given only
    for the shipped-data check (then ``data_dir`` names the shipped directory)."""
    year, following = today.year, today.year + 1
    required_from = date(year, *REQUIRED_FROM)
    res = CheckResult(0)
    res.out = [f"{y}: {year_source(wd, y)}" for y in (year, following)]
    required = [(year, "this year")]
    if today >= required_from:
        required.append((following, f"next year, required from {required_from}"))
    acknowledged = []
    for y, why in required:
        if not wd.provisional(date(y, 1, 1)):
            continue
        entry = next((p for p in pending or [] if p.year == y), None)
        where = "" if pending is None else " in the shipped data"
        todo = (
            "load the State Council notice with `hallrate calendar load`"
            if pending is None
            else f"add {(data_dir or Path('.')) / f'{y}.csv'} from the State Council notice"
        )
        if entry is not None and entry.checked <= today <= entry.until:
            acknowledged.append(y)
            res.err += [
                f"WARNING: no holiday data for {y} ({why}): acknowledged in pending.toml until "
                f"{entry.until} (checked {entry.checked}): {entry.reason}",
                f"WARNING: deadlines in {y} are provisional (Mon-Fri assumed); this check "
                f"fails again after {entry.until} unless {y}.csv is shipped",
            ]
            continue
        res.code = 1
        if entry is not None and today > entry.until:
            res.err.append(
                f"hallrate calendar: the pending.toml entry for {y} expired on {entry.until}"
            )
        elif entry is not None:
            res.err.append(
                f"hallrate calendar: the pending.toml entry for {y} is checked {entry.checked}, "
                "after today"
            )
        res.err.append(
            f"hallrate calendar: no holiday data for {y}{where} ({why}): {todo} "
            '(docs/cases.md "Working days")'
        )
    for p in pending or []:
        if p.year in (year, following) and not wd.provisional(date(p.year, 1, 1)):
            res.verdict.append(f"note: {p.year} is covered; remove its entry from pending.toml")
    if res.code:
        return res
    if acknowledged:
        res.verdict.append(
            "ok (acknowledged): " + ", ".join(str(y) for y in acknowledged) + " pending"
        )
    elif wd.provisional(date(following, 1, 1)):
        res.verdict.append(
            f"ok: {year} is covered; {following} is not required before {required_from}"
        )
    else:
        res.verdict.append(f"ok: {year} and {following} are covered")
    return res
