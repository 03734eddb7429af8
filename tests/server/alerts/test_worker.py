"""The deliverer inside the server process: started by the app's lifespan, woken by the commit
that recorded alerts, stopped (thread joined) on shutdown, off with HALLRATE_ALERTS_DELIVER=0."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from server.alerts.enqueue import case_alert
from server.app import create_app
from tests.server.alerts.fixtures import add_case, add_hall, add_target, policy
from tests.server.alerts.receiver import receiving
from tests.server.conftest import make_settings


def _deliverer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "alert-deliverer"]


def test_woken_by_the_commit_and_joined_on_shutdown(
    lite: sessionmaker[Session], sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An hour between polls: only the wake after the commit can deliver within the wait.
    monkeypatch.setenv("HALLRATE_ALERTS_POLL_SECONDS", "3600")
    monkeypatch.setenv("HALLRATE_ALERTS_DELIVER", "1")
    app = create_app(make_settings(sqlite_url, tmp_path))
    assert _deliverer_threads() == []  # nothing runs before the app starts
    with receiving() as hook, TestClient(app):
        background = app.state.alert_deliverer
        assert background is not None and background.alive
        assert background.idle.wait(30)  # its first pass is over: it waits for an hour
        assert background.passes == 1
        with lite() as session:
            h = add_hall(session)
            add_target(session, h, "webhook", hook.url)
            now = datetime.now(UTC)
            case_alert(
                session, policy(quiet_hours=""), add_case(session, h, now=now), "red", now=now
            )
            session.commit()
        assert hook.arrived.wait(30), "the deliverer was not woken by the commit"
    assert not background.alive
    assert _deliverer_threads() == []
    assert app.state.alert_deliverer is None
    app.state.engine.dispose()
    assert len(hook.requests) == 1


def test_off_with_the_setting(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lite: sessionmaker[Session]
) -> None:
    monkeypatch.setenv("HALLRATE_ALERTS_DELIVER", "0")
    app = create_app(make_settings(sqlite_url, tmp_path))
    with TestClient(app):
        assert app.state.alert_deliverer is None
        assert _deliverer_threads() == []
    app.state.engine.dispose()


def test_a_bad_setting_stops_the_start(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lite: sessionmaker[Session]
) -> None:
    monkeypatch.setenv("HALLRATE_ALERTS_POLL_SECONDS", "0")
    with pytest.raises(
        ValueError, match=r"^HALLRATE_ALERTS_POLL_SECONDS: Input should be greater than 0"
    ):
        create_app(make_settings(sqlite_url, tmp_path))
