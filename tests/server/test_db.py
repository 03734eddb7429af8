"""SQLite connections: WAL, foreign keys, and writers that lock up front (BEGIN IMMEDIATE);
PostgreSQL connections: JIT off."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from server.db import (
    SQLITE_WAL_AUTOCHECKPOINT_PAGES,
    begin_write,
    make_engine,
    make_sessionmaker,
    normalize_url,
)


def test_sqlite_pragmas(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert (
            conn.execute(text("PRAGMA wal_autocheckpoint")).scalar()
            == SQLITE_WAL_AUTOCHECKPOINT_PAGES
        )
    engine.dispose()


def test_begin_write_holds_the_write_lock(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    factory = make_sessionmaker(engine)
    path = sqlite_url.removeprefix("sqlite:///")
    with factory() as session:
        session.execute(text("SELECT 1"))  # a read transaction, as after authentication
        begin_write(session)
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        session.commit()
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
    engine.dispose()


def test_postgresql_connections_run_without_jit_and_with_ssd_page_costs(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW jit")).scalar() == "off"
            assert conn.execute(text("SHOW random_page_cost")).scalar() == "1.1"
    finally:
        engine.dispose()


def test_postgresql_options_given_by_the_caller_are_kept(pg_url: str) -> None:
    engine = make_engine(pg_url, connect_args={"options": "-c work_mem=8MB"})
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW work_mem")).scalar() == "8MB"
            assert conn.execute(text("SHOW jit")).scalar() == "off"
    finally:
        engine.dispose()


def test_plain_postgres_urls_use_psycopg3() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
