"""Corrections reach the platform as the profile's operations: a 差评 excluded by 申诉复核
(server/review.py) is withdrawn (province-b: its withdraw) or made void (gbt39046, province-a:
an update with the void value); restored, it is back; a revised level is an update (or a
withdraw and a create anew). A correction is sent only after its create was accepted."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.db import make_engine, make_sessionmaker
from server.export.outbox import Timing
from server.export.profiles import decode, load_profile, shipped_profiles
from server.export.push import Pusher
from server.export.record import record_id
from server.models import Evaluation, ExportOutbox
from server.models.base import utcnow
from server.review import review
from simulator.province.state import Config
from tests.server.export_push.fixtures import (
    CN,
    SECRET,
    SECRET_ENV,
    admin,
    platform,
    pusher,
    run_until_settled,
    seed,
    target,
)


@pytest.fixture(autouse=True)
def _secret() -> Iterator[None]:
    os.environ[SECRET_ENV] = SECRET
    yield
    os.environ.pop(SECRET_ENV, None)


def _held(server: object, rid: str) -> list[dict[str, object]]:
    return [h for h in admin(server, "records") if h["record_id"] == rid]  # type: ignore[arg-type]


def _bad_rating(session: object) -> Evaluation:
    """A counted 差评 (very_dissatisfied) of a channel every profile exports."""
    return session.scalars(  # type: ignore[attr-defined, no-any-return]
        select(Evaluation)
        .where(Evaluation.level == "very_dissatisfied", Evaluation.channel != "system_default")
        .order_by(Evaluation.id)
    ).first()


@pytest.mark.parametrize("profile", shipped_profiles())
def test_excluded_then_restored_then_revised(migrated_url: str, profile: str) -> None:
    engine = make_engine(migrated_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        seed(s, 30)
        s.commit()
        bad = _bad_rating(s)
        assert bad is not None
        ev_id, rid = bad.id, record_id("H1", bad.key)
    prof = load_profile(profile)
    update_mode = prof.corrections.mode == "update"
    try:
        with platform(profile, Config()) as server:
            t = target(server, profile)
            p = pusher(sessions)
            run_until_settled(p, t)
            assert [h["live"] for h in _held(server, rid)] == [True]

            # 申诉复核 excludes the 差评: the platform is told.
            with sessions() as s:
                review(s, s.get(Evaluation, ev_id), reason="恶意差评", by="admin", excluded=True)
                s.commit()
            run_until_settled(p, t)
            held = _held(server, rid)
            if update_mode:  # kept, void
                assert [(h["live"], h["valid"]) for h in held] == [(True, False)]
                assert held[0]["ops"] == ["create", "withdraw"]
                item = held[0]["item"]
                assert item[prof.corrections.op_key] == prof.corrections.ops["update"]
                assert item[prof.corrections.valid_key] == prof.corrections.void_value
            else:  # withdrawn
                assert [h["live"] for h in held] == [False]
                assert held[0]["ops"] == ["create", "withdraw"]

            # The exclusion undone: the record stands again, once.
            with sessions() as s:
                review(s, s.get(Evaluation, ev_id), reason="复核撤销", by="admin", excluded=False)
                s.commit()
            run_until_settled(p, t)
            live = [h for h in _held(server, rid) if h["live"]]
            assert [(h["valid"], h["level"]) for h in live] == [(True, "very_dissatisfied")]

            # A revised level: an update (mode update), or a withdraw and a create anew.
            with sessions() as s:
                ev = s.get(Evaluation, ev_id)
                assert ev is not None
                ev.level = "dissatisfied"
                ev.updated_at = utcnow() + timedelta(seconds=1)
                s.commit()
            run_until_settled(p, t)
            live = [h for h in _held(server, rid) if h["live"]]
            assert [(h["valid"], h["level"]) for h in live] == [(True, "dissatisfied")]
            got = decode(live[0]["item"], prof, CN)  # type: ignore[arg-type]
            assert got["level"] == "dissatisfied"
            every = admin(server, "records")
        with sessions() as s:
            ops = [
                (r.op, r.state)
                for r in s.scalars(
                    select(ExportOutbox)
                    .where(ExportOutbox.record_id == rid)
                    .order_by(ExportOutbox.seq)
                )
            ]
    finally:
        engine.dispose()
    if update_mode:
        assert ops == [
            ("create", "accepted"),
            ("withdraw", "accepted"),
            ("update", "accepted"),
            ("update", "accepted"),
        ]
    else:
        assert ops == [
            ("create", "accepted"),
            ("withdraw", "accepted"),
            ("create", "accepted"),
            ("withdraw", "accepted"),
            ("create", "accepted"),
        ]
    # Every other record untouched and held once.
    others = [h["record_id"] for h in every if h["live"] and h["record_id"] != rid]
    assert len(others) == len(set(others))


@pytest.mark.parametrize("profile", ["gbt39046", "province-b"])
def test_correction_waits_for_its_create(migrated_url: str, profile: str) -> None:
    """The platform refuses a record's create three times; meanwhile the rating is excluded.
    The withdraw goes out only after the create was accepted, never before."""
    engine = make_engine(migrated_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        seed(s, 12)
        s.commit()
        bad = _bad_rating(s)
        ev_id, rid = bad.id, record_id("H1", bad.key)
    clock = [utcnow()]
    timing = Timing(
        retry_base=timedelta(minutes=1),
        retry_cap=timedelta(minutes=1),
        max_attempts=20,
        visibility_delay=timedelta(0),
    )
    p = Pusher(sessions, CN, timing, clock=lambda: clock[0])
    try:
        with platform(profile, Config(reject_ids={rid}, reject_times=3)) as server:
            t = target(server, profile)
            assert p.run_once(t).refused == 1
            with sessions() as s:
                review(s, s.get(Evaluation, ev_id), reason="恶意差评", by="admin", excluded=True)
                s.commit()
            waiting = p.run_once(t)  # the create waits for its retry; the withdraw for it
            assert waiting.requests == 0 and not _held(server, rid)
            for _ in range(10):
                clock[0] += timedelta(minutes=2)
                p.run_once(t)
            held = _held(server, rid)
            calls = admin(server, "calls")
    finally:
        engine.dispose()
    assert len(held) == 1 and held[0]["ops"] == ["create", "withdraw"]
    assert held[0]["live"] is False or held[0]["valid"] is False  # withdrawn, or void
    # No request carried the withdraw before the create was accepted: the platform never
    # answered "no such record".
    assert all("error" not in c for c in calls)
