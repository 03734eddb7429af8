"""Server fixtures: a migrated database (SQLite and PostgreSQL) and the app on it."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import aggregates
from server.app import create_app
from server.config import Settings
from server.models import Evaluation
from tests.support.migrated import MigratedTemplates
from tests.support.pg import PgDatabases

GATEWAY_KEY = "test-gateway-key-0123456789"
ADMIN = ("root", "root-password")


@pytest.fixture
def migrated_url(
    db_url: str, migrated_templates: MigratedTemplates, pg_databases: PgDatabases
) -> str:
    """``db_url`` at the newest migration, the same as ``upgrade(db_url)`` (on SQLite a copy of
    a file migrated once per session: tests/support/migrated.py; on PostgreSQL ``db_url`` is
    already a copy of a database migrated once per session: tests/support/pg.py)."""
    if not pg_databases.is_migrated_copy(db_url):
        migrated_templates.migrate(db_url)
    return db_url


@dataclass
class Server:
    client: TestClient
    settings: Settings
    admin_token: str

    @property
    def gw(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {GATEWAY_KEY}"}

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def login(self, username: str, password: str) -> dict[str, str]:
        r = self.client.post(
            "/api/v1/auth/token", json={"username": username, "password": password}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def ingest(self, records: list[dict[str, Any]], headers: dict[str, str] | None = None) -> Any:
        r = self.client.post(
            "/api/v1/ingest/evaluations",
            json={"gateway": "gw-h1", "records": records},
            headers=headers or self.gw,
        )
        assert r.status_code == 200, r.text
        return r.json()


# The windows hall H1 has (entered as an admin would, HALLRATE_BOOTSTRAP_WINDOWS): ingest
# creates no window under the default policy.
WINDOWS = "A00,A01,A02,A03,A04,A05,A06,A07,A08,A09"


def make_settings(
    url: str, data_dir: Path, policy_file: Path | None = None, windows: str = WINDOWS
) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key="test-secret-not-a-placeholder",  # type: ignore[arg-type]
        bootstrap_admin=":".join(ADMIN),
        bootstrap_gateway=f"gw-h1:{GATEWAY_KEY}:H1",
        bootstrap_windows=windows,
        policy_file=None if policy_file is None else str(policy_file),
    )


@pytest.fixture
def server(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from serve(migrated_url, tmp_path)


def auto_create_policy(tmp_path: Path, value: str = "true") -> Path:
    """A policy file that is the default but for ``[directory] auto_create_windows``."""
    path = tmp_path / "policy.toml"
    path.write_text(f"[directory]\nauto_create_windows = {value}\n", encoding="utf-8")
    return path


def serve(
    url: str, tmp_path: Path, policy_file: Path | None = None, windows: str = WINDOWS
) -> Iterator[Server]:
    settings = make_settings(url, tmp_path, policy_file, windows)
    app = create_app(settings)
    with TestClient(app) as client:
        r = client.post("/api/v1/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]})
        assert r.status_code == 200, r.text
        yield Server(client, settings, r.json()["access_token"])
    app.state.engine.dispose()


def evaluation(key: str, **overrides: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "key": key,
        "rev": 0,
        "channel": "evaluator",
        "level": "satisfied",
        "occurred_at": "2026-11-23T10:15:00+08:00",
        "time_source": "device",
        "hall": "H1",
        "window": "A03",
        # One ticket per key: under 一次一评 ratings of one ticket compete (one counts).
        "ticket": f"T{zlib.crc32(key.encode()):08x}",
        "staff": "1001",
        "device": "EV-A03",
        "attribution": "attributed",
        "flags": [],
    }
    rec.update(overrides)
    return rec


def check_aggregates(
    session: Session, tz: str = "Asia/Shanghai"
) -> tuple[dict[Any, int], dict[Any, int]]:
    """Recompute the counts from the raw rows; assert the monthly grain (no staff) and the
    hourly grain (hall, day, hour of occurred_at in ``tz``) agree; return (recomputed daily,
    stored daily) for the caller to compare."""
    rows = [
        {
            "local_day": e.local_day,
            "occurred_at": e.occurred_at,
            "hall_id": e.hall_id,
            "department_id": e.department_id,
            "window_id": e.window_id,
            "staff_id": e.staff_id,
            "channel": e.channel,
            "level": e.level,
            "counted": e.counted,
        }
        for e in session.scalars(select(Evaluation))
    ]
    raw = aggregates.recompute(rows)
    monthly: dict[Any, int] = {}
    for key, n in raw.items():
        mkey = (key[0].replace(day=1), key[1], key[2], key[3], 0, *key[5:])
        monthly[mkey] = monthly.get(mkey, 0) + n
    assert aggregates.stored_monthly(session) == monthly
    assert aggregates.stored_hourly(session) == aggregates.recompute_hourly(rows, tz)
    return raw, aggregates.stored_daily(session)
