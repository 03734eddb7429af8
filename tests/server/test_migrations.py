"""Migrations build the same schema as the models, up and down, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server.db import make_engine
from server.migrate import downgrade, upgrade
from server.models import Base


def test_upgrade_matches_models_and_downgrades(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
            assert diff == [], diff
            tables = set(sa.inspect(conn).get_table_names())
        assert {"evaluations", "evaluation_daily_counts", "evaluation_monthly_counts"} <= tables
        downgrade(db_url, "base")
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
        upgrade(db_url)  # and up again
    finally:
        engine.dispose()
