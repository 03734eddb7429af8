"""Profile validation (`validate_profile`, `hallrate export validate`): the shipped profiles are
valid; a broken profile gets every problem named with its key; secrets never go in a profile;
[default_rating] disagreements are warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.cli import main as hallrate
from server.export.profiles import (
    PROFILES_DIR,
    ProfileError,
    load_profile,
    policy_warnings,
    shipped_profiles,
    validate_profile,
)
from server.online.policy import DefaultRatingPolicy

BROKEN = """\
name = "Province C"
title = ""
time_format = "%Y-%m-%d %H:%M"
time_example = "2026/11/23"
batch_size = 0
envelope = "records"
required = ["evaluator", "nope", 3]
colour = "blue"

[levels]
direction = "upside-down"
code_type = "float"

[channels]
evaluator = { code = 1, name = "评价器" }
sms = { code = 1, name = "短信" }
fax = { code = 9, name = "传真" }
phone = { code = true, name = "" }

[fields]
case_no = "caseNo"
rater = "evaluator"
level_name = "caseNo"
mood = "mood"

[auth]
scheme = "basic"
secret = "hunter2"

[corrections]
mode = "update"
op_key = "caseNo"
create = "A"

[response]
results_key = "results"
ok_value = "0"
"""

# Every problem of BROKEN, with its key (the order is the file's, then cross-checks).
EXPECTED = [
    "colour: unknown key;",
    "name: 'Province C' must be 1..32 characters of a-z 0-9 -",
    "time_format: '%Y-%m-%d %H:%M' lacks %S",
    "batch_size: must be an integer 1..1000 (got 0)",
    "title: must be a non-empty string",
    "levels.direction: must be one of standard, reverse (got 'upside-down')",
    "levels.code_type: must be one of integer, string (got 'float')",
    "channels.sms.code: 1 is also the code of evaluator",
    "channels.fax: unknown channel; hallrate's channels are evaluator, ballot_box, sms, phone,",
    "channels.phone.code: must be an integer or a non-empty string (got True)",
    "channels.phone.name: must be a non-empty string (got '')",
    "fields.level_name: key 'caseNo' is also the key of case_no",
    "fields.mood: unknown record field;",
    "fields.record_id: missing: every profile maps it",
    "fields.rated_at: missing: every profile maps it",
    "fields.channel_code: missing: every profile maps it",
    "auth.secret: a secret never goes in a profile; the target names its environment variable",
    "auth.scheme: must be one of none, bearer, hmac-sha256 (got 'basic')",
    "corrections.update: missing: the caseNo value of an update (mode update)",
    "corrections.valid_key: missing",
    "corrections.valid_value: missing",
    "corrections.void_value: missing",
    "response.id_key: missing",
    "response.ok_key: missing",
    "corrections.op_key: 'caseNo' is also a key of [fields] (case_no)",
    "required: 'evaluator' (rater) is always empty, hallrate holds no names: set anonymous_rater",
    "required: 'nope' is no key of [fields] (nor corrections.op_key)",
    "required: 3 is not a key (a string)",
]


def test_shipped_profiles_are_valid() -> None:
    for name in shipped_profiles():
        assert validate_profile(name) == [], name
        assert validate_profile(PROFILES_DIR / f"{name}.toml") == []


def test_broken_profile_names_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "province-c.toml"
    path.write_text(BROKEN, encoding="utf-8")
    problems = validate_profile(path)
    for want in EXPECTED:
        assert sum(p.startswith(want) for p in problems) == 1, (want, problems)
    assert len(problems) == len(EXPECTED), problems
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert all(p in str(info.value) for p in problems)
    assert "hunter2" not in str(info.value)


def _variant(tmp_path: Path, old: str, new: str, name: str = "province-x") -> Path:
    text = (PROFILES_DIR / "province-a.toml").read_text(encoding="utf-8")
    assert old in text
    text = text.replace('name = "province-a"', f'name = "{name}"').replace(old, new)
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('time_example = "2026-11-23 10:15:30"', 'time_example = "2026-11-23 10:15"',
         "time_example: '2026-11-23 10:15' is not time_format applied to 2026-11-23 10:15:30 "
         "(that is '2026-11-23 10:15:30')"),
        ('anonymous_rater = "匿名"\n', "",
         "required: 'evaluator' (rater) is always empty, hallrate holds no names: set "
         "anonymous_rater"),
        ('header = "Authorization"', 'token_env = "X"',
         "auth.token_env: a secret never goes in a profile"),
        ("valid_value = 1\nvoid_value = 0", "valid_value = 1\nvoid_value = 1",
         "corrections.void_value: must differ from valid_value"),
        ('mode = "update"', 'mode = "withdraw"',
         "corrections.withdraw: missing: the opType value of a withdraw (mode withdraw)"),
        ("system_default = { code = 7,", 'system_default = { code = "7",',
         "channels: codes mix integers and strings; use one type"),
        ("batch_size = 50", "batch_size = 50\ndefault_rating_days = 93",
         "default_rating_days: must be an integer 1..92 (got 93)"),
        ('time_format = "%Y-%m-%d %H:%M:%S"', 'time_format = "%Y-%m-%d %H:%M:%S %Q"',
         "time_format: '%Y-%m-%d %H:%M:%S %Q' cannot be written and read back"),
        # An optional string may be empty: the message does not ask for a non-empty one.
        ('anonymous_rater = "匿名"', "anonymous_rater = 5",
         "anonymous_rater: must be a string (got 5)"),
    ],
)  # fmt: skip
def test_one_problem(tmp_path: Path, old: str, new: str, problem: str) -> None:
    problems = validate_profile(_variant(tmp_path, old, new))
    assert len(problems) >= 1 and any(p.startswith(problem) for p in problems), problems


def test_name_is_the_file_name(tmp_path: Path) -> None:
    path = _variant(tmp_path, "batch_size = 50", "batch_size = 50")
    renamed = path.rename(tmp_path / "province-y.toml")
    assert validate_profile(renamed) == [
        "name: 'province-x' must be the file's name without .toml ('province-y')"
    ]


def test_file_problems(tmp_path: Path) -> None:
    assert validate_profile(tmp_path / "none.toml") == [f"{tmp_path / 'none.toml'}: no such file"]
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n", encoding="utf-8")
    (problem,) = validate_profile(bad)
    assert problem.startswith(f"{bad}: not TOML: ")
    assert validate_profile("nope") == [
        "unknown profile 'nope'; shipped profiles are gbt39046, province-a, province-b "
        "(or give the path of a .toml file)"
    ]
    with pytest.raises(ProfileError, match="unknown profile 'nope'"):
        load_profile("nope")


def test_default_rating_warnings() -> None:
    b = load_profile("province-b")
    assert b.default_rating_days == 7
    off = DefaultRatingPolicy()
    assert policy_warnings(b, off) == [
        "default_rating_days: the province adds a default rating after 7 days, but the "
        "policy's [default_rating] is off (enabled = false)"
    ]
    assert policy_warnings(b, DefaultRatingPolicy(enabled=True, after_days=7)) == []
    assert policy_warnings(b, DefaultRatingPolicy(enabled=True, after_days=5)) == [
        "default_rating_days: the province adds a default rating after 7 days, the policy's "
        "[default_rating] after 5 natural days"
    ]
    assert policy_warnings(load_profile("province-a"), off) == []


def test_validate_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[default_rating]\nenabled = true\nafter_days = 7\n", encoding="utf-8")
    monkeypatch.setenv("HALLRATE_POLICY_FILE", str(policy))
    assert hallrate(["export", "validate", "province-b"]) == 0
    path = PROFILES_DIR / "province-b.toml"
    assert capsys.readouterr().out == (
        f"{path}: valid (profile province-b: {load_profile('province-b').title})\n"
    )
    monkeypatch.delenv("HALLRATE_POLICY_FILE")
    assert hallrate(["export", "validate", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "  warning: default_rating_days: the province adds a default rating after 7 days, but "
        "the policy's [default_rating] is off (enabled = false)"
    )
    broken = tmp_path / "province-c.toml"
    broken.write_text(BROKEN, encoding="utf-8")
    assert hallrate(["export", "validate", str(broken)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{broken}: {len(EXPECTED)} problems"
    assert lines[1:] == [f"  {p}" for p in validate_profile(broken)]


def test_profiles_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert hallrate(["export", "profiles"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["gbt39046", "province-a", "province-b"]
    assert lines[1].split("\t")[2] == str(PROFILES_DIR / "province-a.toml")
