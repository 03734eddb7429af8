"""A SQLite database at the newest migration, copied from one migrated once per test session.

Running every Alembic migration costs about half a second per test; copying a file that was
migrated once costs a millisecond. The copy is the database ``upgrade(url)`` would have made: same
schema, same rows (the app's bootstrap runs later, in each test), same ``alembic_version``.
PostgreSQL has its own template (tests/support/pg.py): the ``db_url`` fixture creates a test's
database from it directly, rather than an empty one that would have to be dropped and re-created.
Tests of the migrations themselves keep calling ``upgrade`` on an empty database.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

from server.db import is_sqlite, normalize_url, private_file
from server.migrate import upgrade


class MigratedTemplates:
    """Per session: one migrated SQLite file under ``workdir``, made on first use."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._sqlite: Path | None = None

    def migrate(self, url: str) -> None:
        """Bring the database at ``url`` to the newest migration: a fresh SQLite file becomes a
        copy of the template; anything else is migrated with ``upgrade``."""
        if is_sqlite(url):
            self._copy_sqlite(url)
        else:
            upgrade(url)

    def _copy_sqlite(self, url: str) -> None:
        database = make_url(normalize_url(url)).database
        if not database or database == ":memory:" or database.startswith("file:"):
            upgrade(url)
            return
        dest = Path(database)
        if dest.exists() and dest.stat().st_size > 0:
            upgrade(url)  # not empty: migrate it as it is
            return
        if self._sqlite is None:
            template = self.workdir / f"migrated-{uuid.uuid4().hex[:8]}.db"
            upgrade(f"sqlite:///{template}")
            con = sqlite3.connect(template)  # fold the WAL into the file: one file to copy
            try:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                con.close()
            self._sqlite = template
        private_file(dest)  # as make_engine does before SQLite opens the file: 0600, dir 0700
        shutil.copyfile(self._sqlite, dest)
