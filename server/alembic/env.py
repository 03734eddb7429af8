"""Alembic environment: the URL comes from the caller (server.migrate) or from settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from server.config import Settings
from server.db import make_engine, normalize_url
from server.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return normalize_url(
        config.get_main_option("sqlalchemy.url") or Settings().resolved_database_url
    )


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
