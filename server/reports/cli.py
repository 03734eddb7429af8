"""`hallrate report` (docs/reports.md "Command line"):

  hallrate report [--kind ranking|bad|appraisal] --period 2026Q4 [--hall CODE]
                  --format pdf|xlsx [-o FILE]
  hallrate report schedule --out DIR [--every SECONDS] [--today DAY] [--hall CODE ...]
                           (server/reports/schedule.py)

The file is written to FILE, else to ``<kind>-<hall or all>-<period>.<format>`` in the current
folder. Without --hall the ranking covers every hall (halls ranked too); bad and appraisal need
--hall. Bad input: one line on stderr (``hallrate report: ...``) and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn

from server.reports.texts import FORMATS, KINDS

PROG = "hallrate report"


class Stop(Exception):
    """Ends the command: one line on stderr, exit 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``hallrate report: ...``) and exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def err(message: str, prog: str = PROG) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return 2


@contextmanager
def context(command: str = "report") -> Iterator[Any]:
    """Settings, policy and database from the environment (HALLRATE_*); Stop when unusable."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    from server.db import make_engine, make_sessionmaker
    from server.migrate import schema_behind
    from server.policy import PolicyError, load_policy
    from server.settings_cli import load_settings

    settings = load_settings(command)
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as e:
        raise Stop(str(e)) from None
    try:
        reason = schema_behind(settings.resolved_database_url)
    except (ArgumentError, OperationalError) as e:
        raise Stop(_unusable_database(settings.resolved_database_url, e)) from None
    if reason:
        raise Stop(reason)
    engine = make_engine(settings.resolved_database_url)
    try:
        yield SimpleNamespace(sessions=make_sessionmaker(engine), policy=policy, settings=settings)
    finally:
        engine.dispose()


def _unusable_database(url: str, error: Exception) -> str:
    """One line on a database that cannot be opened: its URL without password, the reason."""
    from sqlalchemy.engine import make_url

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:
        shown = "HALLRATE_DATABASE_URL"
    cause = getattr(error, "orig", None) or error
    reason = " ".join(str(cause).split("\n")[0].split())
    return f"cannot open the database {shown}: {reason}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it: a reader (or a
    schedule run after a crash) never sees half a file. OSError passes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parser() -> Parser:
    p = Parser(prog=PROG, description="a publication as PDF or XLSX (docs/reports.md)")
    p.add_argument("--kind", choices=KINDS, default="ranking", help="which (default: ranking)")
    p.add_argument("--period", required=True, help="2026Q4, 2026-11, 2026, ...")
    p.add_argument("--hall", help="hall code (bad and appraisal need one)")
    p.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    p.add_argument("-o", "--out", type=Path, help="file to write (default: its own name here)")
    return p


def run(args: argparse.Namespace, ctx: Any = None) -> int:
    from sqlalchemy import select

    from server.cases.pdf import PdfUnavailable
    from server.models import Hall
    from server.periods import PeriodError
    from server.reports.data import ReportError, Target
    from server.reports.publish import publish

    try:
        with context() if ctx is None else _given(ctx) as c, c.sessions() as session:
            from server.periods import parse_period

            p = parse_period(args.period, c.policy.timezone)
            hall = None
            if args.hall is not None:
                hall = session.scalars(select(Hall).where(Hall.code == args.hall)).first()
                if hall is None:
                    return err(f"unknown hall {args.hall!r}")
            data, name = publish(session, c.policy, args.kind, args.fmt, p, Target(hall, None))
    except (Stop, PeriodError, ReportError, PdfUnavailable) as exc:
        return err(str(exc))
    out: Path = args.out or Path(name)
    try:
        write_atomic(out, data)
    except OSError as exc:
        return err(f"cannot write {out}: {exc.strerror or exc}")
    print(f"{args.kind} report for {args.hall or 'all halls'}, {p.label}: written to {out}")
    return 0


@contextmanager
def _given(ctx: Any) -> Iterator[Any]:
    yield ctx


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(argv) if argv is not None else None)
    return run(args)
