"""`hallrate sms` refuses a bad policy or setting with one line and exit 2 (docs/sms.md), never a
traceback; `outbox` options are checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import REPO


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HALLRATE_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "sms", *args],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (("status",), {"bad_policy": "1"}, "hallrate sms: invalid policy: sms.send_mode"),
        (("status",), {"HALLRATE_PORT": "abc"}, "hallrate sms: HALLRATE_PORT:"),
        (
            ("send",),
            {"HALLRATE_SMS_MAX_ATTEMPTS": "abc"},
            "hallrate sms: HALLRATE_SMS_MAX_ATTEMPTS:",
        ),
        (("send",), {"HALLRATE_SMS_PROVIDER": "foo"}, "hallrate sms: HALLRATE_SMS_PROVIDER:"),
        (
            ("send",),
            {"HALLRATE_SMS_PROVIDER": "aliyun"},
            "hallrate sms: HALLRATE_SMS_PROVIDER=aliyun needs",
        ),
    ],
)
def test_a_bad_policy_or_setting_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], line: str
) -> None:
    env = dict(env)
    if env.pop("bad_policy", None):
        policy = tmp_path / "policy.toml"
        policy.write_text('[sms]\nsend_mode = "bogus"\n')
        env["HALLRATE_POLICY_FILE"] = str(policy)
    out = run(tmp_path, *args, **env)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(line) and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_outbox_options_are_checked(tmp_path: Path) -> None:
    assert run(tmp_path, "outbox", "--state", "bogus").returncode == 2
    assert run(tmp_path, "outbox", "--limit", "0").returncode == 2
