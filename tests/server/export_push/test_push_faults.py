"""Done-when of issue #20: against the fake provincial platform that refuses some records,
times out, drops answers after storing, fails with HTTP 500 and repeats acknowledgements, a run
ends with every record accepted exactly once — the platform's own store is the judge: each
record id held once, with the rating's level and channel — for each shipped profile, on SQLite
and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from server.db import make_engine, make_sessionmaker
from server.export.profiles import decode, load_profile, shipped_profiles
from server.export.record import record_id
from server.models import Evaluation, ExportOutbox
from simulator.province.state import Config
from tests.server.export_push.fixtures import (
    CN,
    SECRET,
    SECRET_ENV,
    admin,
    expected_ids,
    platform,
    pusher,
    run_until_settled,
    seed,
    target,
)

N = 120
FAULTS = ("duplicate_ack", "timeout", "server_error", "drop", "duplicate_ack")


@pytest.fixture(autouse=True)
def _secret() -> Iterator[None]:
    os.environ[SECRET_ENV] = SECRET
    yield
    os.environ.pop(SECRET_ENV, None)


@pytest.mark.parametrize("profile", shipped_profiles())
def test_faulty_platform_ends_with_every_record_accepted_exactly_once(
    migrated_url: str, profile: str
) -> None:
    engine = make_engine(migrated_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        seed(s, N)
        s.commit()
    prof = load_profile(profile)
    faults = Config(
        reject_fraction=0.2,
        timeout_fraction=0.1,
        drop_fraction=0.1,
        duplicate_ack_fraction=0.2,
        timeout_delay=2.5,
        seed=3,
    )
    try:
        with platform(profile, faults) as server:
            # Batches of 20 whatever the profile says: more requests, so every fault happens.
            t = target(server, profile, timeout_seconds=1.0)
            t = replace(t, profile=replace(t.profile, batch_size=20))
            for kind in FAULTS:
                admin(server, "fault", {"kind": kind})
            reports = run_until_settled(pusher(sessions), t)
            calls = admin(server, "calls")
            held = admin(server, "records")
        with sessions() as s:
            want = expected_ids(s, channels=tuple(prof.channels))
            rows = s.scalars(select(ExportOutbox).where(ExportOutbox.target == t.name)).all()
            ratings = {
                record_id("H1", e.key): (e.level, e.channel)
                for e in s.scalars(select(Evaluation)).all()
            }
    finally:
        engine.dispose()
    assert set(FAULTS) <= {c.get("fault") for c in calls}  # each fault really happened
    assert sum(r.refused for r in reports) > 0  # and refusals
    assert 0 < len(want) <= N
    live = [h for h in held if h["live"]]
    assert sorted(h["record_id"] for h in live) == sorted(want)  # each exactly once
    for h in live:
        got = decode(h["item"], prof, CN)
        assert (got["level"], got["channel"]) == ratings[h["record_id"]]
    assert len(rows) == len(want) and {r.state for r in rows} == {"accepted"}
