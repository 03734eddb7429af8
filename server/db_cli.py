"""`hallrate db`: apply or inspect the Alembic migrations of the server database."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hallrate db", description="Server database migrations.")
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("upgrade", help="migrate the database to the newest schema (idempotent)")
    up.add_argument(
        "--database-url", help="default: HALLRATE_DATABASE_URL or the SQLite file in the data dir"
    )
    up.add_argument("--revision", default="head", help="target revision (default: %(default)s)")
    cur = sub.add_parser("current", help="show the revision the database is at")
    cur.add_argument("--database-url")
    args = parser.parse_args(list(argv) if argv is not None else None)

    from server.config import Settings

    url = args.database_url or Settings().resolved_database_url
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    from alembic import command

    from server.migrate import alembic_config, upgrade

    if args.action == "upgrade":
        upgrade(url, args.revision)
        print(f"database at {args.revision}: {_redact(url)}")
    else:
        command.current(alembic_config(url), verbose=False)
    return 0


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
