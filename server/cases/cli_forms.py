"""`hallrate cases form` and `hallrate cases ledger` (docs/cases.md "Forms and ledger"):

  hallrate cases form NUMBER --hall CODE --form chengban|shouli|zhuanban -o FILE.pdf
  hallrate cases ledger --hall CODE [--kind K] [--from DAY] [--to DAY] -o FILE.xlsx

Both take ``--with-numbers --operator NAME`` to print phone numbers in full (each a ``phone``
row in its case's trail, actor NAME, role ``cli``); without, numbers are masked. Bad input: a
message on stderr and exit 2.

``register(subparsers)`` adds both to `hallrate cases` (server/cases/cli.py); each sets
``func(args, ctx=None)``: ``ctx`` (with ``sessions``, ``policy``, ``settings``) is the caller's,
or, when None, one is made from the environment. ``main(argv)`` runs them on their own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from server.models.cases import CASE_KINDS

PROG = "hallrate cases"
OPERATOR_MAX = 64


def _err(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def _day(text: str) -> date:
    """A day in 2000-01-01..2099-12-31, as the ledger endpoint takes."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None
    if not date(2000, 1, 1) <= day <= date(2099, 12, 31):
        raise argparse.ArgumentTypeError(f"{text!r} is not a day in 2000-01-01..2099-12-31")
    return day


def _operator(text: str) -> str:
    text = text.strip()
    if not 1 <= len(text) <= OPERATOR_MAX or any(ord(c) < 32 for c in text):
        raise argparse.ArgumentTypeError(f"--operator must be 1..{OPERATOR_MAX} characters")
    return text


def _numbers(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--with-numbers",
        action="store_true",
        help="phone numbers in full, each a 'phone' row in its case's trail under --operator",
    )
    p.add_argument("--operator", type=_operator, help="who prints (needed by --with-numbers)")


def register(sub: Any) -> None:
    from server.cases.forms import FORMS

    f = sub.add_parser("form", help="a case's seed form (承办单, 受理单, 转办单) as PDF")
    f.add_argument("number", help="the case's 编号, e.g. BC202600017")
    f.add_argument("--hall", required=True, help="the case's hall code")
    f.add_argument("--form", required=True, choices=tuple(FORMS), help="which form")
    f.add_argument("-o", "--out", required=True, type=Path, help="the PDF file to write")
    _numbers(f)
    f.set_defaults(func=_form)
    ledger = sub.add_parser("ledger", help="a hall's 台账 as XLSX")
    ledger.add_argument("--hall", required=True, help="hall code")
    ledger.add_argument("--kind", choices=CASE_KINDS, help="one kind only (default: all)")
    ledger.add_argument("--from", dest="start", type=_day, help="first day accepted")
    ledger.add_argument("--to", dest="end", type=_day, help="last day accepted")
    ledger.add_argument("-o", "--out", required=True, type=Path, help="the XLSX file to write")
    _numbers(ledger)
    ledger.set_defaults(func=_ledger)


def _reader(args: argparse.Namespace) -> Any:
    from server.cases.printing import Reader

    return Reader(args.operator, "cli") if args.with_numbers else None


@contextmanager
def _context(ctx: Any) -> Iterator[Any]:
    """The caller's context, or one made from the environment (settings, policy, database)."""
    if ctx is not None:
        yield ctx
        return
    from types import SimpleNamespace

    from server.db import make_engine, make_sessionmaker
    from server.migrate import schema_behind
    from server.policy import PolicyError, load_policy
    from server.settings_cli import load_settings

    settings = load_settings("cases")
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as e:
        raise _Stop(str(e)) from None
    if reason := schema_behind(settings.resolved_database_url):
        raise _Stop(reason)
    engine = make_engine(settings.resolved_database_url)
    try:
        yield SimpleNamespace(sessions=make_sessionmaker(engine), policy=policy, settings=settings)
    finally:
        engine.dispose()


class _Stop(Exception):
    pass


def _write(path: Path, data: bytes) -> int | None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        return _err(f"cannot write {path}: {exc.strerror or exc}")
    return None


def _form(args: argparse.Namespace, ctx: Any = None) -> int:
    from sqlalchemy import select

    from server.cases import printing
    from server.cases.forms import FormNotApplicable
    from server.cases.pdf import PdfUnavailable
    from server.models import Hall

    if args.with_numbers and not args.operator:
        return _err("--with-numbers needs --operator NAME (written to the audit)")
    try:
        with _context(ctx) as c, c.sessions() as session:
            case = printing.find_case(session, args.hall, args.number)
            if case is None:
                if session.scalar(select(Hall.id).where(Hall.code == args.hall)) is None:
                    return _err(f"unknown hall {args.hall!r}")
                return _err(f"no case {args.number} in hall {args.hall}")
            data = printing.case_form(
                session, c.settings.phone_cipher, c.policy, case, args.form, _reader(args)
            )
    except (_Stop, FormNotApplicable, PdfUnavailable) as exc:
        return _err(str(exc))
    if (failed := _write(args.out, data)) is not None:
        return failed
    numbers = "in full, audited" if args.with_numbers else "masked"
    print(f"case {args.number}: {args.form} form written to {args.out} (phone {numbers})")
    return 0


def _ledger(args: argparse.Namespace, ctx: Any = None) -> int:
    from sqlalchemy import select

    from server.cases import printing
    from server.models import Hall

    if args.with_numbers and not args.operator:
        return _err("--with-numbers needs --operator NAME (written to the audit)")
    if args.start and args.end and args.start > args.end:
        return _err("--from must not be after --to")
    try:
        with _context(ctx) as c, c.sessions() as session:
            hall_id = session.scalar(select(Hall.id).where(Hall.code == args.hall))
            if hall_id is None:
                return _err(f"unknown hall {args.hall!r}")
            q = printing.LedgerQuery(hall_id, args.kind, args.start, args.end)
            data, count = printing.ledger(
                session, c.settings.phone_cipher, c.policy, q, _reader(args)
            )
    except _Stop as exc:
        return _err(str(exc))
    if (failed := _write(args.out, data)) is not None:
        return failed
    numbers = "in full, audited" if args.with_numbers else "masked"
    print(f"hall {args.hall}: {count} cases written to {args.out} (phone numbers {numbers})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG)
    register(parser.add_subparsers(dest="action", required=True))
    args = parser.parse_args(list(argv) if argv is not None else None)
    return int(args.func(args))
