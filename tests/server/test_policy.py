"""The scoring policy: defaults, every switch, the TOML file and the errors it gives."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from firmware import wire
from server.policy import (
    CHANNELS,
    LEVELS,
    POLICY_ENV,
    Policy,
    PolicyError,
    load_policy,
    parse_weight,
    policy_from_mapping,
)

ROOT = Path(__file__).resolve().parents[2]


def test_levels_are_the_wire_levels() -> None:
    assert tuple(wire.LEVELS) == LEVELS


def test_default_is_seed_000() -> None:
    p = Policy.default()
    weights = {g.name: g.weight for g in p.groups}
    assert weights == {
        "on_site": Fraction(3, 10),
        "sms": Fraction(3, 10),
        "phone": Fraction(2, 5),
        "online": 0,
        "system_default": 0,
    }
    assert p.group_of("ballot_box").name == "on_site"
    assert p.group_of("evaluator").name == "on_site"
    assert p.satisfied_levels == ("very_satisfied", "satisfied")
    assert p.alt_satisfied_levels == ("very_satisfied", "satisfied", "basically_satisfied")
    assert p.missing_group == "renormalise"
    assert p.timezone == "Asia/Shanghai"
    assert (p.display_decimals, p.rounding) == (2, "ROUND_HALF_UP")


def test_describe_names_every_switch_and_is_json() -> None:
    d = Policy.default().describe()
    json.dumps(d)
    fields = set(Policy.model_fields) - {"groups"}
    assert fields <= set(d), fields - set(d)
    assert d["groups"][0] == {
        "name": "on_site",
        "channels": ["evaluator", "ballot_box"],
        "weight": "3/10",
        "weight_percent": "30%",
    }


def test_ballot_box_separate_switch() -> None:
    p = Policy(ballot_box_on_site=False)
    assert p.group_of("evaluator").channels == ("evaluator",)
    bb = p.group_of("ballot_box")
    assert (bb.name, bb.channels, bb.weight) == ("ballot_box", ("ballot_box",), 0)
    assert p.describe()["ballot_box_on_site"] is False


def test_ballot_box_separate_with_weight_needs_weights_to_add_up() -> None:
    with pytest.raises(PolicyError, match="add up to 110%"):
        policy_from_mapping({"ballot_box_on_site": False, "ballot_box_weight": "10%"})


def test_explicit_groups_decide_ballot_box_flag() -> None:
    p = policy_from_mapping(
        {
            "ballot_box_on_site": True,
            "groups": {
                "evaluator": {"channels": ["evaluator"], "weight": "20%"},
                "ballot_box": {"channels": ["ballot_box"], "weight": "10%"},
                "sms": {"channels": ["sms"], "weight": "30%"},
                "phone": {"channels": ["phone"], "weight": "40%"},
                "rest": {"channels": ["online", "system_default"], "weight": 0},
            },
        }
    )
    assert p.ballot_box_on_site is False
    assert p.describe()["ballot_box_on_site"] is False


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("30%", Fraction(3, 10)),
        ("0.3", Fraction(3, 10)),
        ("3/10", Fraction(3, 10)),
        (0.3, Fraction(3, 10)),
        (1, Fraction(1)),
        ("12.5 %", Fraction(1, 8)),
    ],
)
def test_weight_forms(text: object, value: Fraction) -> None:
    assert parse_weight(text) == value


@pytest.mark.parametrize("bad", ["abc", "-10%", "150%", True, None, "1/0"])
def test_bad_weights(bad: object) -> None:
    with pytest.raises(PolicyError):
        parse_weight(bad)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"satisfied_levels": ["good"]}, "unknown level"),
        ({"satisfied_levels": []}, "at least one level"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"missing_group": "ignore"}, "missing_group"),
        ({"min_sample": -1}, "min_sample"),
        ({"rounding": "ROUND_DOWN"}, "rounding"),
        ({"display_decimals": 9}, "display_decimals"),
        ({"sms_reply_digits": {"a": "satisfied"}}, "not a digit"),
        ({"sms_reply_digits": {"1": "great"}}, "unknown level"),
        ({"weights": {"sms": 1}}, "weights"),  # a typo of a key is refused
        (
            {
                "groups": {
                    "a": {"channels": ["evaluator", "sms"], "weight": 1},
                    "b": {"channels": ["sms"], "weight": 0},
                }
            },
            "is in groups",
        ),
        ({"groups": {"a": {"channels": ["evaluator"], "weight": 1}}}, "channels in no group"),
        ({"groups": {"a": {"channels": ["fax"], "weight": 1}}}, "unknown channel"),
    ],
)
def test_bad_policies_name_the_problem(data: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policy_from_mapping(data)


def test_satisfied_levels_are_kept_in_level_order() -> None:
    p = Policy(satisfied_levels=("satisfied", "very_satisfied", "basically_satisfied"))
    assert p.satisfied_levels == ("very_satisfied", "satisfied", "basically_satisfied")


def test_example_file_equals_defaults() -> None:
    assert load_policy(str(ROOT / "docs" / "policy.example.toml")) == Policy.default()


def test_load_policy_from_env_and_policy_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "p.toml"
    f.write_text('[policy]\nname = "city-x"\nmissing_group = "zero"\nmin_sample = 5\n', "utf-8")
    monkeypatch.setenv(POLICY_ENV, str(f))
    p = load_policy()
    assert (p.name, p.missing_group, p.min_sample) == ("city-x", "zero", 5)
    monkeypatch.delenv(POLICY_ENV)
    assert load_policy() == Policy.default()


def test_load_policy_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n", "utf-8")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(str(bad))


def test_every_channel_in_exactly_one_group() -> None:
    p = Policy.default()
    listed = [c for g in p.groups for c in g.channels]
    assert sorted(listed) == sorted(CHANNELS)
