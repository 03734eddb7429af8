"""schemathesis against the app's own OpenAPI document: nothing a client sends causes a 5xx."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from server.app import create_app
from server.ingest import ingest_evaluations
from server.models import User
from server.security import make_token
from tests.server.conftest import GATEWAY_KEY, evaluation, make_settings


@pytest.fixture
def api_schema(migrated_url: str, tmp_path: Path) -> Any:
    app = create_app(make_settings(migrated_url, tmp_path))
    with app.state.sessionmaker() as s:
        ingest_evaluations(
            s, [evaluation(f"k{i}", flags=["misuse"] * (i % 2)) for i in range(5)], "t"
        )
        s.commit()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.app_state = app.state  # type: ignore[attr-defined]
    return schema


def _headers(case: Any, token: str) -> dict[str, str]:
    if case.path.startswith("/api/v1/ingest"):
        return {"Authorization": f"Bearer {GATEWAY_KEY}"}
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.timeout(900)
def test_no_server_errors(api_schema: Any) -> None:
    """Every operation, fuzzed with an admin token (a gateway key for ingest)."""
    state = api_schema.app_state

    def token() -> str:
        # User 1 is the bootstrap admin. A fuzzed PATCH /users/1 may change its password, which
        # ends older tokens (token_version): sign each case with the current version.
        with state.sessionmaker() as s:
            user = s.get(User, 1)  # a fuzzed DELETE may have removed it: then any version
            version = user.token_version if user is not None else 0
        return make_token(1, state.settings.token_secret, 3600, version=version)

    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 30

    for op in operations:

        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def run(case: Any) -> None:
            try:
                response = case.call(headers=_headers(case, token()))
            except Exception as exc:  # the test client re-raises what would be a 500
                failures.append(f"{case.method} {case.formatted_path} raised {exc!r:.300}")
                raise
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")
            assert response.status_code < 500

        with contextlib.suppress(Exception):
            run()
    assert failures == [], sorted(set(failures))
