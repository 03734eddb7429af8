"""`hallrate export` (docs/export.md "Command line"):

  hallrate export profiles                      the shipped profiles
  hallrate export validate FILE|NAME            every problem of a profile, with its key
  hallrate export file --profile P --hall H --period 2026Q4 --format json|xlsx [-o FILE]
  hallrate export run | status | reconcile | retry | platform   (server/export/push_cli.py)

Bad input: one line on stderr (``hallrate export: ...``) and exit 2. ``validate`` exits 1 when
the profile has problems (one per line on stdout).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from server.reports.cli import Parser, Stop, context, err, write_atomic

PROG = "hallrate export"


def _profiles(args: argparse.Namespace) -> int:
    from server.export.profiles import PROFILES_DIR, load_profile, shipped_profiles

    for name in shipped_profiles():
        print(f"{name}\t{load_profile(name).title}\t{PROFILES_DIR / (name + '.toml')}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from server.export.profiles import load_profile, policy_warnings, validate_profile
    from server.policy import PolicyError, load_policy

    problems = validate_profile(args.profile)
    if problems:
        print(f"{args.profile}: {len(problems)} problem{'s' * (len(problems) > 1)}")
        for problem in problems:
            print(f"  {problem}")
        return 1
    profile = load_profile(args.profile)
    print(f"{profile.path}: valid (profile {profile.name}: {profile.title})")
    try:
        policy = load_policy()
    except PolicyError as exc:
        print(f"  warning: policy not read, [default_rating] not compared: {exc}")
        return 0
    for warning in policy_warnings(profile, policy.default_rating):
        print(f"  warning: {warning}")
    return 0


def _file(args: argparse.Namespace, ctx: Any = None) -> int:
    from sqlalchemy import select

    from server.export.files import hall_file
    from server.export.profiles import ProfileError, load_profile
    from server.models import Hall
    from server.periods import PeriodError, parse_period

    try:
        profile = load_profile(args.profile)
        with context("export") if ctx is None else nullcontext(ctx) as c, c.sessions() as session:
            period = parse_period(args.period, c.policy.timezone)
            hall = session.scalars(select(Hall).where(Hall.code == args.hall)).first()
            if hall is None:
                return err(f"unknown hall {args.hall!r}", PROG)
            data, export = hall_file(session, profile, hall, period, args.fmt)
    except (Stop, PeriodError, ProfileError) as exc:
        return err(str(exc), PROG)
    name = f"export-{profile.name}-{hall.code}-{period.label}.{args.fmt}".replace("/", "_")
    out: Path = args.out or Path(name)
    try:
        write_atomic(out, data)
    except OSError as exc:
        return err(f"cannot write {out}: {exc.strerror or exc}", PROG)
    print(
        f"{profile.name}, hall {hall.code}, {period.label}: {len(export.items)} records written "
        f"to {out} ({export.count('skipped')} skipped, {export.count('rejected')} rejected)"
    )
    for left in export.left:
        print(f"  {left.kind} {left.record_id} {left.case_no}: {left.reason}")
    return 0


def parser() -> Parser:
    p = Parser(prog=PROG, description="export ratings to provincial platforms (docs/export.md)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    s = sub.add_parser("profiles", help="list the shipped profiles")
    s.set_defaults(run=_profiles)
    s = sub.add_parser("validate", help="check a profile file (or a shipped profile's name)")
    s.add_argument("profile", metavar="FILE|NAME")
    s.set_defaults(run=_validate)
    s = sub.add_parser("file", help="a hall's ratings of a period as a JSON or XLSX file")
    s.add_argument("--profile", required=True, help="a shipped profile's name or a .toml file")
    s.add_argument("--hall", required=True, help="hall code")
    s.add_argument("--period", required=True, help="2026Q4, 2026-11, 2026, ...")
    s.add_argument("--format", required=True, choices=("json", "xlsx"), dest="fmt")
    s.add_argument("-o", "--out", type=Path, help="file to write (default: its own name here)")
    s.set_defaults(run=_file)
    from server.export.push_cli import add_parsers  # run, status, reconcile, retry, platform

    add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(argv) if argv is not None else None)
    return int(args.run(args))
