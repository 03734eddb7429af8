"""`hallrate callbacks export|import` (docs/phone-callbacks.md "Export and import").

``register(subparsers)`` adds both subcommands to `hallrate callbacks` (server/callbacks/cli.py
lists this module in EXTRA_MODULES); each sets ``func(args, ctx)`` with ``ctx.sessions``,
``ctx.policy`` and ``ctx.settings``. ``run(args)`` and ``main(argv)`` run them on their own.

The command has database access: ``export`` writes masked numbers unless ``--with-numbers``,
which needs ``--operator NAME`` and writes one phone_reads audit row per unmasked number (role
``cli``). ``import`` records every row or none, as POST /api/v1/callbacks/results does, for
entries of any hall; the attempts' username is ``--operator`` (default ``import``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from server.callbacks.cli import Context, _err

OPERATOR_MAX = 64


def _worklist_id(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a worklist id")
    return int(text)


def _operator(text: str) -> str:
    text = text.strip()
    if not 1 <= len(text) <= OPERATOR_MAX or any(ord(c) < 32 for c in text):
        raise argparse.ArgumentTypeError(f"--operator must be 1..{OPERATOR_MAX} characters")
    return text


def register(sub: Any) -> None:
    e = sub.add_parser("export", help="a worklist as XLSX (numbers masked unless --with-numbers)")
    e.add_argument("id", type=_worklist_id)
    e.add_argument("--out", required=True, type=Path, help="the XLSX file to write")
    e.add_argument(
        "--with-numbers",
        action="store_true",
        help="unmasked numbers, each audited (phone_reads) under --operator",
    )
    e.add_argument("--operator", type=_operator, help="who exports (needed by --with-numbers)")
    e.set_defaults(func=_export)
    i = sub.add_parser("import", help="record the results of a filled worklist sheet (all or none)")
    i.add_argument("file", type=Path, help="XLSX or CSV with 回访条目编号 and 回访状态 columns")
    i.add_argument("--operator", type=_operator, default="import", help="attempts' username")
    i.add_argument("--json", action="store_true", help="print the summary as JSON")
    i.set_defaults(func=_import)


def _export(args: argparse.Namespace, ctx: Context) -> int:
    from server.callbacks.exchange import Reader, export_xlsx

    if args.with_numbers and not args.operator:
        return _err("--with-numbers needs --operator NAME (written to the audit)")
    reader = Reader(None, args.operator, "cli") if args.with_numbers else None
    with ctx.sessions() as session:
        try:
            wl, data = export_xlsx(session, args.id, ctx.settings.phone_cipher, ctx.policy, reader)
        except LookupError as exc:
            return _err(str(exc))
    try:
        args.out.write_bytes(data)
    except OSError as exc:
        return _err(f"cannot write {args.out}: {exc.strerror or exc}")
    masked = "unmasked, audited" if reader else "masked"
    print(f"worklist {wl.id} ({wl.key}): {args.out} (numbers {masked})")
    return 0


def _import(args: argparse.Namespace, ctx: Context) -> int:
    from server.callbacks.exchange import ImportRejected, import_results

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        return _err(f"cannot read {args.file}: {exc.strerror or exc}")
    engine = ctx.sessions.kw["bind"]
    try:
        summary = import_results(
            engine, data, ctx.policy, user_id=None, username=args.operator, hall_ids=None
        )
    except ImportRejected as exc:
        if args.json:
            print(json.dumps({"error": exc.text()}, ensure_ascii=False))
        return _err(exc.text())
    out = summary.to_dict()
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(
            f"{out['rows']} rows: {out['recorded']} recorded ({out['completed']} 有效), "
            f"{out['unchanged']} already imported, {out['blank']} without a result"
        )
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a parsed subcommand with the settings, policy and database of the environment."""
    from server.db import make_engine, make_sessionmaker
    from server.policy import PolicyError, load_policy
    from server.settings_cli import load_settings

    settings = load_settings("callbacks")
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as e:
        return _err(str(e))
    engine = make_engine(settings.resolved_database_url)
    try:
        return int(args.func(args, Context(make_sessionmaker(engine), policy, settings)))
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hallrate callbacks")
    register(parser.add_subparsers(dest="action", required=True))
    return run(parser.parse_args(list(argv) if argv is not None else None))
