"""Run the Alembic migrations programmatically (``hallrate db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from server.db import normalize_url

ALEMBIC_DIR = Path(__file__).parent / "alembic"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def revision(database_url: str, message: str, autogenerate: bool = True) -> None:
    """Developer helper: write a new migration by comparing the models with the database."""
    command.revision(alembic_config(database_url), message=message, autogenerate=autogenerate)


def schema_behind(database_url: str) -> str | None:
    """Why the database cannot serve this code yet (its schema is not at the newest
    migration), or None when it is up to date."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from server.db import make_engine, missing_sqlite_file

    if missing := missing_sqlite_file(database_url):  # connecting would create an empty file
        return f"no database file {missing}: run `hallrate db upgrade` (or start with --migrate)"
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    if current == head:
        return None
    return (
        f"the database schema is at revision {current or 'none'}, this server needs {head}: "
        "run `hallrate db upgrade` (or start with --migrate)"
    )
