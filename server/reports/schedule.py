"""`hallrate report schedule` (docs/reports.md "Schedule"): the publications of every finished
period, written once per hall.

  hallrate report schedule --out DIR [--every SECONDS] [--today DAY] [--hall CODE ...]
                           [--since YYYY-MM] [--format pdf,xlsx]

For each hall (every hall, or those given), from the month of its first evaluation (or --since)
up to the last finished period before ``today`` (hall-local; default: the current day):

- each finished month: the 差评 report (``bad``);
- each finished quarter: the ranking and the appraisal sheet,

in each format, as ``DIR/<hall>/<kind>-<hall>-<period>.<format>``. A file that exists is never
written again (the run is idempotent); a run after downtime writes every period it missed.
Files are written whole (a temporary file, then renamed). ``--every`` repeats the run every
SECONDS until stopped (Ctrl-C, SIGTERM: at once, also in the middle of a turn); without it the
command runs once.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Evaluation, Hall
from server.periods import Period, month, quarter_of
from server.policy import Policy
from server.reports.cli import Parser, Stop, context, err, write_atomic
from server.reports.texts import FORMATS

PROG = "hallrate report schedule"
MONTHLY = ("bad",)
QUARTERLY = ("ranking", "appraisal")


@dataclass(frozen=True)
class Due:
    hall: str
    kind: str
    period: Period
    fmt: str

    def path(self, out: Path) -> Path:
        return out / self.hall / f"{self.kind}-{self.hall}-{self.period.label}.{self.fmt}"


def _months(first: date, today: date, tz: str) -> Iterator[Period]:
    m = month(first.year, first.month, tz)
    while m.end <= today:
        yield m
        m = month(m.end.year, m.end.month, tz)


def _quarters(first: date, today: date, tz: str) -> Iterator[Period]:
    q = quarter_of(first, tz)
    while q.end <= today:
        yield q
        q = quarter_of(q.end, tz)


def due(
    session: Session,
    policy: Policy,
    today: date,
    halls: Sequence[str] | None = None,
    since: date | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[tuple[Due, Hall]]:
    """Every publication of a finished period of each hall (written or not)."""
    stmt = select(Hall, func.min(Evaluation.local_day)).outerjoin(
        Evaluation, Evaluation.hall_id == Hall.id
    )
    if halls:
        stmt = stmt.where(Hall.code.in_(halls))
    out = []
    tz = policy.timezone
    for hall, first in session.execute(stmt.group_by(Hall.id).order_by(Hall.code)):
        if first is None:
            continue
        start = max(first, since) if since else first
        for p in _months(start, today, tz):
            out += [(Due(hall.code, k, p, f), hall) for k in MONTHLY for f in formats]
        for p in _quarters(start, today, tz):
            out += [(Due(hall.code, k, p, f), hall) for k in QUARTERLY for f in formats]
    return out


def run_once(
    sessions: Any,
    policy: Policy,
    out: Path,
    today: date,
    halls: Sequence[str] | None = None,
    since: date | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Write the publications not yet written; the paths written, in order."""
    from server.reports.data import Target
    from server.reports.publish import publish
    from server.results import ScoreMemo

    written = []
    memo = ScoreMemo(policy)
    with sessions() as session:
        for item, hall in due(session, policy, today, halls, since, formats):
            path = item.path(out)
            if path.exists():
                continue
            data, _ = publish(
                session, policy, item.kind, item.fmt, item.period, Target(hall, None), memo
            )
            write_atomic(path, data)
            written.append(path)
    return written


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def _month(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month (YYYY-MM)") from None


# --format and --every refuse with the documented line itself (docs/reports.md "Errors"), not
# argparse's "argument --every: ...": Stop passes through parse_args to main.
def _formats(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in parts if p not in FORMATS]
    if bad or not parts:
        raise Stop(f"formats are {', '.join(FORMATS)} (comma-separated)")
    return parts


def _every(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 86400:
        raise Stop("--every takes whole seconds, 1..86400")
    return value


def parser() -> Parser:
    p = Parser(prog=PROG, description="write each finished period's publications once")
    p.add_argument("--out", type=Path, required=True, help="folder of the files")
    p.add_argument("--every", type=_every, help="repeat every SECONDS (default: run once)")
    p.add_argument("--today", type=_day, help="the current day (default: today, hall time)")
    p.add_argument("--hall", action="append", help="only this hall (repeatable)")
    p.add_argument("--since", type=_month, help="no period before this month (YYYY-MM)")
    p.add_argument("--format", type=_formats, default=FORMATS, dest="formats", help="pdf,xlsx")
    return p


class Waiter(Protocol):
    def wait(self, timeout: float) -> bool: ...


def repeat(
    turn: Callable[[date], list[Path]],
    every: float,
    stop: Waiter,
    today: Callable[[], date],
    say: Callable[[str], None],
) -> None:
    """``turn(today())`` now and after every ``every`` seconds until ``stop.wait`` says stop
    (a ``threading.Event``; a test passes a fake clock). A turn that fails (no CJK font, a full
    disk) is reported and tried again at the next turn."""
    from server.cases.pdf import PdfUnavailable

    while True:
        try:
            written = turn(today())
        except (PdfUnavailable, OSError) as exc:
            say(f"{PROG}: {exc}; next try in {every:g} s")
            written = []
        for path in written:
            say(f"written {path}")
        if stop.wait(every):
            return


def _stop_now(*_: object) -> NoReturn:
    """SIGTERM stops at once, like Ctrl-C, also in the middle of a turn: the file being written
    is never renamed into place (its .part file is removed, server/reports/cli.py)."""
    raise SystemExit(0)


def _say(text: str) -> None:
    print(text, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(argv or [])
    if args and args[0] == "schedule":
        args = args[1:]
    try:
        ns = parser().parse_args(args)
    except Stop as exc:
        return err(str(exc), PROG)
    from server.cases.pdf import PdfUnavailable

    if ns.every and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_now)
    try:
        with context("report schedule") as c:
            tz = ZoneInfo(c.policy.timezone)
            if ns.hall:
                with c.sessions() as session:
                    known = set(session.scalars(select(Hall.code).where(Hall.code.in_(ns.hall))))
                if unknown := [h for h in ns.hall if h not in known]:
                    return err(f"unknown hall {', '.join(map(repr, unknown))}", PROG)

            def today() -> date:
                return ns.today or datetime.now(tz).date()

            def turn(day: date) -> list[Path]:
                return run_once(c.sessions, c.policy, ns.out, day, ns.hall, ns.since, ns.formats)

            if ns.every:
                repeat(turn, ns.every, threading.Event(), today, _say)  # until a signal
                return 0
            try:
                written = turn(today())
            except (PdfUnavailable, OSError) as exc:
                return err(str(exc), PROG)
            for path in written:
                _say(f"written {path}")
            print(f"{len(written)} files written to {ns.out}")
            return 0
    except Stop as exc:
        return err(str(exc), PROG)
    except KeyboardInterrupt:
        return 0
