"""The fake provincial platform's own bad input (docs/export.md "The fake provincial platform"):
an admin POST that is not a JSON object, an unknown key or a value out of bounds is HTTP 400 and
changes nothing; a command-line option out of bounds is one line and exit 2, never a traceback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from server.cli import main
from simulator.province.state import Config
from tests.server.export_push.fixtures import admin, platform


def _post(base: str, path: str, raw: bytes) -> tuple[int, Any]:
    req = urllib.request.Request(f"{base}/_sim/{path}", data=raw, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1], "the config is a JSON object of fault keys"),
        ({"reject_fraction": 1.5}, "reject_fraction must be a number 0..1"),
        ({"reject_fraction": "0.5"}, "reject_fraction must be a number 0..1"),
        ({"reject_times": -1}, "reject_times must be a whole number, 0 or more"),
        ({"timeout_delay": -1}, "timeout_delay must be a number 0..3600"),
        ({"answer_delay": float("nan")}, "answer_delay must be a number 0..3600"),
        ({"dedupe": "false"}, "dedupe must be true or false"),
        ({"reject_ids": "abc"}, "reject_ids must be a list of record ids"),
        ({"colour": 1}, "unknown config field 'colour'"),
    ],
)
def test_config_update_checks_everything_first(data: Any, message: str) -> None:
    config = Config()
    before = config.public()
    bad = {"lose_fraction": 0.5, **data} if isinstance(data, dict) else data
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        config.update(bad)
    assert config.public() == before  # nothing applied, not even the good key


def test_config_update_applies_good_values() -> None:
    config = Config()
    config.update({"reject_ids": ["a"], "dedupe": True, "timeout_delay": 1, "reject_times": 0})
    assert (config.reject_ids, config.dedupe, config.timeout_delay, config.reject_times) == (
        {"a"},
        True,
        1.0,
        0,
    )


def test_admin_bad_bodies_are_400_and_change_nothing() -> None:
    with platform("gbt39046") as server:
        before = admin(server, "config")
        for path, raw, message in [
            ("config", b"[1]", "the body is a JSON object"),
            ("config", b'{"lose_fraction": 0.5, "reject_times": -1}', "reject_times must be"),
            ("fault", b"{}", "fault kind must be one of timeout, drop, server_error"),
            ("fault", b'{"kind": "drop", "count": -1}', "fault count must be a whole number"),
            ("forget", b'{"record_ids": 5}', "record_ids must be a list of record ids"),
        ]:
            status, body = _post(server.base_url, path, raw)
            assert status == 400 and message in body["error"], (path, raw, body)
        assert admin(server, "config") == before
        assert admin(server, "health")["ok"] is True  # still serving


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--port", "99999"], "argument --port: must be 0..65535 (0: any free port)"),
        (["--port", "-1"], "argument --port: must be 0..65535 (0: any free port)"),
        (["--reject-times", "-1"], "argument --reject-times: must be 0 or more"),
        (["--timeout-delay", "-1"], "argument --timeout-delay: must be 0..3600 seconds"),
        (["--answer-delay", "nan"], "argument --answer-delay: must be 0..3600 seconds"),
        (["--reject-fraction", "2"], "argument --reject-fraction: must be 0..1"),
    ],
)
def test_platform_options_out_of_bounds(
    option: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as got:
        main(["export", "platform", "--profile", "gbt39046", *option])
    assert got.value.code == 2
    err = capsys.readouterr().err
    assert err == f"hallrate export platform: {message}\n"
