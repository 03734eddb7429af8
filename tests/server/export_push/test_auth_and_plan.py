"""The fake platform checks each profile's auth scheme (a wrong credential: HTTP 401, nothing
stored, the records refused and retried); the pure decision of what to send next; a profile file
named in the targets file beside it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from server.db import make_engine, make_sessionmaker
from server.export.enqueue import Sent, plan
from server.export.outbox import Timing
from server.export.profiles import PROFILES_DIR, encode, load_profile
from server.export.record import ExportRecord
from server.export.targets import load_targets
from server.models import ExportOutbox
from tests.server.export_push.fixtures import (
    SECRET_ENV,
    admin,
    platform,
    pusher,
    seed,
    target,
)


@pytest.fixture
def wrong_secret() -> Iterator[None]:
    os.environ[SECRET_ENV] = "not-the-secret"
    yield
    os.environ.pop(SECRET_ENV, None)


@pytest.mark.parametrize("profile", ["province-a", "province-b"])
def test_wrong_credential_is_refused_and_nothing_stored(
    migrated_url: str, profile: str, wrong_secret: None
) -> None:
    engine = make_engine(migrated_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        seed(s, 6)
        s.commit()
    try:
        with platform(profile) as server:
            slow = Timing(retry_base=timedelta(minutes=1))  # the refused wait for the backoff
            report = pusher(sessions, slow).run_once(target(server, profile))
            held = admin(server, "records")
            calls = admin(server, "calls")
        with sessions() as s:
            rows = s.scalars(select(ExportOutbox)).all()
    finally:
        engine.dispose()
    assert held == [] and report.accepted == 0 and report.refused == len(rows) > 0
    assert all(c.get("error") for c in calls)
    assert {r.state for r in rows} == {"pending"}
    assert all((r.last_error or "").startswith("HTTP 401: ") for r in rows)


def _record(level: str = "very_dissatisfied") -> ExportRecord:
    return ExportRecord(
        record_id="0" * 32,
        case_no="H1-20261123-A001",
        channel="evaluator",
        rater="",
        rated_at=datetime(2026, 11, 23, 2, 15, tzinfo=UTC),
        times=1,
        level=level,
        comment="",
        division_code="371002",
        matter_code="M-001",
        hall="H1",
        window="A01",
        late=False,
    )


@pytest.mark.parametrize("profile", ["gbt39046", "province-b"])
def test_plan(profile: str) -> None:
    p = load_profile(profile)
    rec = _record()
    created = encode(rec, p, "create")
    assert plan([], rec, True, p) == ("create", created)
    assert plan([], rec, False, p) is None  # never sent, not to export: nothing
    sent = [Sent("create", 1, "accepted", created)]
    assert plan(sent, rec, True, p) is None  # the platform holds it as it is
    withdrawn = encode(rec, p, "withdraw")
    assert plan(sent, rec, False, p) == ("withdraw", withdrawn)
    for state in ("pending", "sending", "failed"):  # wait for the answer / a retry
        assert plan([Sent("create", 1, state, created)], rec, False, p) is None
    revised = _record("dissatisfied")
    step = plan(sent, revised, True, p)
    if p.corrections.mode == "update":
        assert step == ("update", encode(revised, p, "update"))
        void = [*sent, Sent("withdraw", 2, "accepted", withdrawn)]
        assert plan(void, rec, True, p) == ("update", encode(rec, p, "update"))  # restored
        assert plan(void, rec, False, p) is None
    else:
        assert step == ("withdraw", encode(revised, p, "withdraw"))
        gone = [*sent, Sent("withdraw", 2, "accepted", withdrawn)]
        assert plan(gone, revised, True, p) == ("create", encode(revised, p, "create"))
    # Refused as it is: not again until the record changes.
    refused = [Sent("create", 1, "rejected", created)]
    assert plan(refused, rec, True, p) is None
    assert plan(refused, revised, True, p) == ("create", encode(revised, p, "create"))


def test_profile_file_beside_the_targets_file(tmp_path: Path) -> None:
    shutil.copy(PROFILES_DIR / "gbt39046.toml", tmp_path / "gbt39046.toml")
    path = tmp_path / "targets.toml"
    path.write_text(
        '[[target]]\nname = "t"\nprofile = "gbt39046.toml"\nurl = "https://p.example/r"\n'
        'halls = ["H1"]\nsince = "2026-10-01"\nenabled = false\n'
    )
    (t,) = load_targets(path)
    assert t.profile.path == tmp_path / "gbt39046.toml"
    assert (t.enabled, t.query_url, t.timeout_seconds, t.secret()) == (False, None, 30.0, "")
