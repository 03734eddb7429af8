"""`hallrate lobby url --hall CODE [--base URL] [--lang en]`: the lobby screen's URL of a hall,
with its display key (docs/lobby.md "The URL and its key")."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

PROG = "hallrate lobby"


def _err(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="The lobby screen (大屏): a hall's read-only, no-login page."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    url = sub.add_parser("url", help="print the lobby screen URL of a hall, with its display key")
    url.add_argument("--hall", required=True, help="hall code")
    url.add_argument(
        "--base",
        metavar="URL",
        help="the server as the screen reaches it (default: HALLRATE_PUBLIC_URL)",
    )
    url.add_argument("--lang", choices=("zh", "en"), default="zh", help="page language")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    from sqlalchemy import select

    from server.db import make_engine, make_sessionmaker
    from server.lobby.keys import display_key, lobby_path
    from server.migrate import schema_behind
    from server.models import Hall
    from server.policy import PolicyError, load_policy
    from server.settings_cli import load_settings

    overrides = {"public_url": args.base} if args.base is not None else {}
    settings = load_settings("lobby", **overrides)  # a bad --base: one line, exit 2
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as e:
        return _err(str(e))
    if not policy.lobby.enabled:
        return _err("the lobby screen is off ([lobby] enabled = false)")
    if reason := schema_behind(settings.resolved_database_url):
        return _err(reason)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            known = session.scalar(select(Hall.id).where(Hall.code == args.hall))
    finally:
        engine.dispose()
    if known is None:
        return _err(f"unknown hall {args.hall!r}")
    key = display_key(settings, args.hall, policy.lobby.key_generation)
    lang = "en" if args.lang == "en" else None
    print(settings.public_url + lobby_path(args.hall, key, lang))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
