"""Reconciliation lists what the platform lacks after a fault that drops records (acknowledged,
never stored), what it holds that hallrate no longer exports, and level differences; --requeue
sends the lost records again, once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.db import make_engine, make_sessionmaker
from server.export.client import PlatformClient
from server.export.reconcile import reconcile, requeue
from server.export.record import record_id
from server.models import Evaluation
from server.models.base import utcnow
from server.periods import parse_period
from server.review import review
from simulator.province.state import Config
from tests.server.export_push.fixtures import (
    CN,
    SECRET,
    SECRET_ENV,
    admin,
    live_records,
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


@pytest.mark.parametrize("profile", ["province-a", "province-b"])
def test_reconcile_lists_lost_extra_and_mismatched_records(migrated_url: str, profile: str) -> None:
    engine = make_engine(migrated_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        seed(s, 24)
        s.commit()
        evs = s.scalars(
            select(Evaluation).where(Evaluation.channel != "system_default").order_by(Evaluation.id)
        ).all()
        lost = [record_id("H1", e.key) for e in evs[:3]]
        excluded, revised = evs[5], evs[6]
    period = parse_period("2026Q4", "Asia/Shanghai")
    try:
        with platform(profile, Config(lose_ids=set(lost))) as server:
            t = target(server, profile)
            p = pusher(sessions)
            run_until_settled(p, t)  # the platform acknowledged all, lost three
            with sessions() as s:  # changes not pushed yet: an exclusion and a new level
                review(s, s.get(Evaluation, excluded.id), reason="恶意差评", by="a", excluded=True)
                ev = s.get(Evaluation, revised.id)
                assert ev is not None
                ev.level = "very_dissatisfied" if ev.level != "very_dissatisfied" else "satisfied"
                ev.updated_at = utcnow() + timedelta(seconds=1)
                new_level = ev.level
                s.commit()
            client = PlatformClient(t, SECRET)
            with sessions() as s:
                rec, ours, ids = reconcile(s, t, client, period, CN)
            kinds = {(d.kind, d.record_id) for d in rec.differences}
            assert {d.record_id for d in rec.differences if d.kind == "missing"} == set(lost)
            assert all(d.state == "accepted" for d in rec.differences if d.kind == "missing")
            assert ("extra", record_id("H1", excluded.key)) in kinds
            level = [d for d in rec.differences if d.kind == "level"]
            assert [(d.record_id, d.ours) for d in level] == [
                (record_id("H1", revised.key), new_level)
            ]
            assert rec.held == len(ours) and rec.platform == rec.held - 3 + 1  # lost; excluded

            # --requeue: the lost records once more; the pusher sends them and the corrections.
            admin(server, "config", {"lose_ids": []})
            with sessions() as s:
                assert requeue(s, t, rec, ours, ids, utcnow()) == 3
                assert requeue(s, t, rec, ours, ids, utcnow()) == 0  # queued already
            run_until_settled(p, t)
            with sessions() as s:
                again, _, _ = reconcile(s, t, client, period, CN)
            client.close()
            held = live_records(server)
    finally:
        engine.dispose()
    assert again.differences == []
    assert set(held.values()) == {1} and set(lost) <= set(held)
