from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from server.db import make_engine, make_sessionmaker
from tests.support.migrated import MigratedTemplates


@pytest.fixture
def sessions(migrated_url: str) -> Iterator[sessionmaker[Session]]:
    """SQLite and PostgreSQL: for what depends on the database (claims, dedupe, savepoints)."""
    engine = make_engine(migrated_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def lite(sqlite_url: str, migrated_templates: MigratedTemplates) -> Iterator[sessionmaker[Session]]:
    """SQLite only: for behaviour that is the same on every database."""
    migrated_templates.migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    yield make_sessionmaker(engine)
    engine.dispose()
