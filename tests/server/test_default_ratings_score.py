"""System default ratings in the score (docs/scoring.md): their own channel group, weight 0
by default, so counted and reported but never moving the weighted score; a policy that gives
the group a weight makes them count in it."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from server.db import make_engine, make_sessionmaker
from server.online.defaults import run_defaults
from server.online.policy import DefaultRatingPolicy
from server.policy import LEVELS, Policy, policy_from_mapping
from server.scoring import score
from tests.server.conftest import Server, evaluation, serve

CITIZENS = ("evaluator", "ballot_box", "sms", "phone", "online")
level_counts = st.dictionaries(st.sampled_from(LEVELS), st.integers(0, 50))
WEIGHTED_DEFAULTS = """
[groups.on_site]
channels = ["evaluator", "ballot_box"]
weight = "30%"
[groups.sms]
channels = ["sms"]
weight = "30%"
[groups.phone]
channels = ["phone"]
weight = "30%"
[groups.online]
channels = ["online"]
weight = "0%"
[groups.system_default]
channels = ["system_default"]
weight = "10%"
"""


@given(st.dictionaries(st.sampled_from(CITIZENS), level_counts), level_counts)
def test_defaults_never_move_the_score_under_the_default_policy(
    citizens: dict[str, dict[str, int]], defaults: dict[str, int]
) -> None:
    p = Policy.default()
    without = score(citizens, p)
    with_defaults = score({**citizens, "system_default": defaults}, p)
    assert with_defaults.score == without.score and with_defaults.alt_score == without.alt_score
    assert with_defaults.missing_groups == without.missing_groups
    out = with_defaults.to_dict()
    assert out["channels"]["system_default"]["total"] == sum(defaults.values())
    assert out["channels"]["system_default"]["group"] == "system_default"
    group = next(g for g in out["groups"] if g["name"] == "system_default")
    assert group["weight"]["exact"] == "0/1" and group["total"] == sum(defaults.values())
    assert "system_default" not in out["effective_weights"]
    assert out["counted_total"] == without.counted_total + sum(defaults.values())


def test_a_weight_for_the_group_moves_the_score() -> None:
    p = policy_from_mapping(tomllib.loads(WEIGHTED_DEFAULTS))
    citizens = {"evaluator": {"satisfied": 3, "dissatisfied": 1}}
    assert score(citizens, p).score.value == score(citizens, Policy.default()).score.value
    moved = score({**citizens, "system_default": {"basically_satisfied": 4}}, p)
    # (0.3 * 3/4 + 0.1 * 0) / 0.4 over the groups with data
    assert str(moved.score.value) == "9/16"
    assert moved.to_dict()["effective_weights"]["system_default"] == "1/4"


def _score(server: Server) -> dict[str, Any]:
    r = server.client.get("/api/v1/scores?hall=H1&period=2026-11", headers=server.admin)
    assert r.status_code == 200, r.text
    return dict(r.json()["result"])


def test_default_ratings_over_the_api(migrated_url: str, tmp_path: Path) -> None:
    """The job's rows through /api/v1/scores: counted under system_default, score unchanged;
    the same rows under a policy that weighs them: the score moves."""
    tickets = [
        {
            "key": f"H1:2026-11-02:A00{i}",
            "hall": "H1",
            "number": f"A00{i}",
            "window": "A03",
            "finished_at": "2026-11-02T10:00:00+08:00",
        }
        for i in range(8)
    ]
    votes = [
        evaluation(f"EV-A03:b1:{i}", ticket=f"A00{i}", occurred_at="2026-11-02T10:05:00+08:00")
        for i in range(4)
    ]
    votes[0]["level"] = "dissatisfied"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for server in serve(migrated_url, tmp_path / "a"):
        r = server.client.post(
            "/api/v1/ingest/tickets", json={"records": tickets}, headers=server.gw
        )
        assert r.status_code == 200 and r.json()["accepted"] == 8, r.text
        assert server.ingest(votes)["accepted"] == 4
        before = _score(server)
        engine = make_engine(migrated_url)
        rule = Policy(default_rating=DefaultRatingPolicy(enabled=True))
        with make_sessionmaker(engine)() as s:
            assert run_defaults(s, rule, date(2026, 11, 9)).created == 4
        engine.dispose()
        after = _score(server)
        assert (
            after["score"]
            == before["score"]
            == {
                "basis": "renormalised",
                "reason": "weights renormalised without sms, phone",
                "exact": "3/4",
                "percent": "75.00",
            }
        )
        assert after["channels"]["system_default"]["total"] == 4
        assert after["channels"]["system_default"]["counts"]["basically_satisfied"] == 4
        assert after["counted_total"] == before["counted_total"] + 4
    policy_file = tmp_path / "weighted.toml"
    policy_file.write_text(WEIGHTED_DEFAULTS, encoding="utf-8")
    for server in serve(migrated_url, tmp_path / "b", policy_file):
        assert _score(server)["score"]["exact"] == "9/16"
