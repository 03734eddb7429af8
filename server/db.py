"""Engine and session factory for SQLite (WAL, foreign keys) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 15000
# Checkpoint the WAL into the database every 10,000 pages (about 40 MB) instead of SQLite's
# 1,000: a checkpoint rewrites each changed page once and syncs, and ingest keeps changing the
# same index and aggregate pages, so fewer, larger checkpoints wrote and waited less
# (ingest wall time per 1,000-record batch 54 -> 48 ms at 100,000 rows; docs/benchmarks.md).
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000
# PostgreSQL settings of every server connection (libpq ``options``). jit=off: the server runs
# short queries of one hall and period; JIT compilation cost 48-116 ms on the dashboard's
# largest statements and saved less than that (docs/adr/0024-postgresql-jit-off.md).
# random_page_cost=1.1: the planner's cost of a random page read as on SSD or a cached
# database, so a hall's rows are read through their indexes instead of scanning a whole table
# (docs/adr/0026-postgresql-random-page-cost.md).
POSTGRES_OPTIONS = "-c jit=off -c random_page_cost=1.1"


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalize_url(url)).get_backend_name() == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine that never puts bound values (phone numbers, key hashes) into its errors and
    logs: ``hide_parameters``; a SQLite file is made private to the server's user (0600)."""
    url = normalize_url(url)
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_file(Path(database))
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    connect_args = dict(kwargs.pop("connect_args", {}))
    options = connect_args.get("options")
    connect_args["options"] = f"{options} {POSTGRES_OPTIONS}" if options else POSTGRES_OPTIONS
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite URL's database file if it does not exist (None otherwise, and for
    other databases and in-memory SQLite)."""
    if not is_sqlite(url):
        return None
    database = make_url(normalize_url(url)).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return None if Path(database).exists() else database


def private_file(path: Path) -> None:
    """Create ``path`` (and a missing parent directory, 0700) readable by its owner only
    (0600), before SQLite opens it; an existing file readable by others is narrowed to 0600.
    SQLite gives its -wal and -shm files the database file's mode."""
    private_dir(path.parent)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        _narrow(path.with_name(path.name + suffix))


def private_dir(path: Path) -> None:
    """Create ``path`` and each missing parent directory readable by its owner only (0700);
    an existing directory is left as it is."""
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        with suppress(FileExistsError):
            directory.mkdir(mode=0o700)


def _narrow(path: Path) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        path.chmod(0o600)


def describe_db_error(exc: BaseException) -> str:
    """A database error for a log line or a message: the error class, the driver's first
    line and the statement, never bound values (PostgreSQL's DETAIL line repeats them)."""
    orig = getattr(exc, "orig", None)
    first = str(orig if orig is not None else exc).strip().splitlines()
    head = f"{type(orig or exc).__name__}: {first[0] if first else ''}"
    statement = getattr(exc, "statement", None)
    if statement:
        head += f" [SQL: {' '.join(str(statement).split())[:300]}]"
    return head


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot issue BEGIN IMMEDIATE;
    # take it over so that writers lock up front instead of failing on a lock upgrade.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("sqlite_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer (BEGIN IMMEDIATE on SQLite).

    Call before the writes of a read-then-write transaction: a read transaction still open
    (e.g. from authenticating the request) is ended first. A no-op on other databases.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={"sqlite_write": True})


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
