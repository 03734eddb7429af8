"""Throw-away PostgreSQL databases for tests, and one migrated template per test session.

A test that needs a migrated PostgreSQL database gets ``CREATE DATABASE ... TEMPLATE`` of a
database migrated once per session (PostgreSQL copies it block by block: same schema, same rows,
same ``alembic_version`` and sequence positions as ``upgrade(url)`` makes). That replaces creating
an empty database and running every Alembic migration on it (about half a second per test on an
idle machine, two seconds on a loaded one). Tests of the migrations themselves keep getting an
empty database (``pg_url``) and call ``upgrade`` on it.

``DROP DATABASE`` waits for a checkpoint (a second or more on a loaded machine), so a test's
database is dropped by a background thread while the next test runs; the session's end waits for
every drop and reports any that failed.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import sqlalchemy as sa

from server.migrate import upgrade

PREFIX = "hallrate_t_"


class PgDatabases:
    """Creates and drops databases on the server at ``admin_url`` (a superuser's URL)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._base = admin_url.rsplit("/", 1)[0]
        self._admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self._template: str | None = None
        self._migrated: set[str] = set()
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-drop")
        self._drops: list[Future[None]] = []

    def url(self, name: str) -> str:
        return f"{self._base}/{name}"

    def _execute(self, sql: str) -> None:
        with self._admin.connect() as conn:
            conn.execute(sa.text(sql))

    def create(self) -> str:
        """A new empty database; its URL."""
        name = PREFIX + uuid.uuid4().hex[:12]
        self._execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_migrated(self) -> str:
        """A new database at the newest migration (a copy of the session's template); its URL."""
        if self._template is None:
            template = PREFIX + "tpl_" + uuid.uuid4().hex[:12]
            self._execute(f'CREATE DATABASE "{template}"')
            upgrade(self.url(template))  # its engine is disposed: nobody stays connected
            self._template = template
        name = PREFIX + uuid.uuid4().hex[:12]
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        url = self.url(name)
        self._migrated.add(url)
        return url

    def is_migrated_copy(self, url: str) -> bool:
        """Whether ``url`` came from ``create_migrated`` (and needs no ``upgrade``)."""
        return url in self._migrated

    def drop(self, url: str) -> None:
        """Drop the database at ``url`` in the background (``WITH (FORCE)``: connections a test
        left open are ended)."""
        self._migrated.discard(url)
        name = url.rsplit("/", 1)[1]
        self._drops.append(
            self._dropper.submit(self._execute, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )

    def close(self) -> None:
        """Drop the template, wait for every drop; raise if one failed."""
        if self._template is not None:
            self.drop(self.url(self._template))
            self._template = None
        self._dropper.shutdown(wait=True)
        self._admin.dispose()
        failed = [f.exception() for f in self._drops if f.exception() is not None]
        if failed:
            raise RuntimeError(f"{len(failed)} test database(s) not dropped: {failed[0]}")
