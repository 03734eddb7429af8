"""Ingest's code -> id cache (server/directory.py): admin changes reach the next batch at once,
and a rolled-back batch leaves nothing behind in the cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import begin_write
from server.directory import current_version
from server.ingest import ingest_evaluations
from server.models import Evaluation, Hall, Window
from server.policy import DirectoryPolicy
from tests.server.conftest import Server, auto_create_policy, evaluation, serve


@pytest.fixture
def server(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    """These tests exercise the cache of created rows: the hall's policy creates windows."""
    yield from serve(migrated_url, tmp_path, auto_create_policy(tmp_path))


def _sessions(server: Server) -> Session:
    return server.client.app.state.sessionmaker()  # type: ignore[attr-defined,no-any-return]


def _evaluation(server: Server, key: str) -> Evaluation:
    with _sessions(server) as s:
        return s.scalars(select(Evaluation).where(Evaluation.key == key)).one()


def _window_id(server: Server, code: str) -> int:
    r = server.client.get("/api/v1/windows", headers=server.admin)
    return next(w["id"] for w in r.json() if w["code"] == code)


def test_window_moved_to_a_department_applies_to_the_next_batch(server: Server) -> None:
    c = server.client
    assert server.ingest([evaluation("k1")])["accepted"] == 1  # caches A03 (no department)
    hall_id = _evaluation(server, "k1").hall_id
    r = c.post(
        "/api/v1/departments",
        json={"hall_id": hall_id, "code": "D1", "name": "市场监管局"},
        headers=server.admin,
    )
    assert r.status_code == 201, r.text
    dept_id = r.json()["id"]
    r = c.patch(
        f"/api/v1/windows/{_window_id(server, 'A03')}",
        json={"department_id": dept_id},
        headers=server.admin,
    )
    assert r.status_code == 200, r.text

    assert server.ingest([evaluation("k2")])["accepted"] == 1
    assert _evaluation(server, "k1").department_id is None
    assert _evaluation(server, "k2").department_id == dept_id


def test_changes_bump_the_version_creations_do_not(server: Server) -> None:
    def version() -> int | None:
        with _sessions(server) as s:
            return current_version(s)

    server.ingest([evaluation("k1")])
    start = version()
    assert start is not None
    server.ingest([evaluation("k2", window="B07", staff="2002", device="EV-B07")])
    assert version() == start  # auto-created rows: a cache miss finds them
    wid = _window_id(server, "B07")
    r = server.client.patch(f"/api/v1/windows/{wid}", json={"name": "B7"}, headers=server.admin)
    assert r.status_code == 200, r.text
    assert version() == start + 1
    r = server.client.patch(f"/api/v1/windows/{wid}", json={"name": "B7"}, headers=server.admin)
    assert version() == start + 1  # the same value again changes nothing


def test_rolled_back_batch_leaves_no_ids_in_the_cache(server: Server) -> None:
    server.ingest([evaluation("k0")])  # the cache exists and is warm
    with _sessions(server) as s:
        begin_write(s)
        rules = DirectoryPolicy(auto_create_windows=True)
        ingest_evaluations(s, [evaluation("k1", window="Z9")], "gw-h1", hall="H1", rules=rules)
        s.rollback()  # Z9 was created and then undone
    with _sessions(server) as s:
        # Another window now takes the id the undone Z9 had.
        hall_id = s.scalars(select(Hall.id).where(Hall.code == "H1")).one()
        s.add(Window(hall_id=hall_id, code="Y1", name=""))
        s.commit()
    assert server.ingest([evaluation("k2", window="Z9")])["accepted"] == 1
    with _sessions(server) as s:
        code = s.scalars(
            select(Window.code)
            .join(Evaluation, Evaluation.window_id == Window.id)
            .where(Evaluation.key == "k2")
        ).one()
    assert code == "Z9"


def test_non_json_numbers_and_lone_surrogates_are_422(server: Server) -> None:
    for body in (b'{"records": [NaN]}', b'{"records": ["\\ud800"]}', b'{"records": ['):
        r = server.client.post(
            "/api/v1/ingest/evaluations",
            content=body,
            headers={**server.gw, "Content-Type": "application/json"},
        )
        assert r.status_code == 422, (body, r.text)
        assert "JSON" in r.text
