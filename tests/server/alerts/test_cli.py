"""`hallrate alerts`: targets, list, deliver; bad input is one line on stderr and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.alerts.cli import main
from server.alerts.enqueue import case_alert
from server.cli import main as hallrate
from server.models.cases import AlertTarget
from tests.server.alerts.fixtures import NOW, add_case, add_hall, policy
from tests.server.alerts.receiver import receiving


@pytest.fixture
def env(
    lite: sessionmaker[Session], sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> sessionmaker[Session]:
    monkeypatch.setenv("HALLRATE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path))
    path = tmp_path / "policy.toml"
    path.write_text('[alerts]\nquiet_hours = ""\n', encoding="utf-8")
    monkeypatch.setenv("HALLRATE_POLICY_FILE", str(path))
    with lite() as session:
        add_hall(session, "H1")
        session.commit()
    return lite


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AlertTarget)) or 0)


def test_targets(env: sessionmaker[Session], capsys: pytest.CaptureFixture[str]) -> None:
    secret = "whsec-0123456789abcdef"
    add_hook = ["alerts", "target", "add", "--hall", "H1", "--webhook", "https://ops.example.cn/h"]
    assert hallrate([*add_hook, "--secret", secret, "--name", "值班长"]) == 0
    assert main(["target", "add", "--hall", "H1", "--sms", "13800001234"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "1  H1  webhook  https://ops.example.cn/h 值班长 secret …cdef",
        "2  H1  sms  13800001234",
    ]
    assert main(["target", "list", "--hall", "H1"]) == 0
    listed = capsys.readouterr().out
    assert secret not in listed and len(listed.splitlines()) == 2
    for argv, message in [
        (
            ["target", "add", "--hall", "H1", "--sms", "12345"],
            "mobile number '12345' is not 11 digits starting 13-19 (e.g. 13800001234)",
        ),
        (
            ["target", "add", "--hall", "H9", "--sms", "13800001234"],
            "unknown hall 'H9'",
        ),
        (
            ["target", "add", "--hall", "H1", "--sms", "13800001234"],
            "hall H1 already has the sms target 13800001234",
        ),
        (
            ["target", "add", "--hall", "H1", "--sms", "13800001235", "--secret", "x"],
            "only a webhook target has a secret",
        ),
        (["target", "remove", "99"], "no alert target 99"),
        (["list", "--hall", "H9"], "unknown hall 'H9'"),
    ]:
        assert main(argv) == 2, argv
        assert capsys.readouterr().err.strip() == f"hallrate alerts: {message}"
    with pytest.raises(SystemExit) as exc:
        main(["target", "add", "--hall", "H1", "--webhook", "https://a.cn", "--sms", "13800001234"])
    assert exc.value.code == 2
    capsys.readouterr()
    assert _count(env) == 2
    assert main(["target", "remove", "2"]) == 0
    assert capsys.readouterr().out.strip() == "removed alert target 2"
    assert _count(env) == 1


def test_deliver_once_and_list(
    env: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    with receiving(statuses=[500]) as hook:
        assert main(["target", "add", "--hall", "H1", "--webhook", hook.url]) == 0
        with env() as session:
            case = add_case(session, add_hall(session, "H1"))
            case_alert(session, policy(quiet_hours=""), case, "bad_rating", now=NOW)
            session.commit()
        capsys.readouterr()
        assert main(["deliver"]) == 0
        out = capsys.readouterr().out.splitlines()
    assert out[0] == "sent 0; to retry 1; failed 0"
    assert out[1].startswith("  alert 2 (webhook): HTTP 500")
    assert len(hook.requests) == 1
    assert main(["list", "--state", "pending"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("2  ")
    assert "  H1  bad_rating  webhook  pending attempts 1 last error: HTTP 500" in line
    assert line.endswith("差评提醒: A03窗口 张三 不满意 (票号 A012)")
    assert main(["list", "--channel", "sms"]) == 0
    assert capsys.readouterr().out.strip() == "no alerts"
    assert main(["list", "--state", "pending", "--json"]) == 0
    [item] = json.loads(capsys.readouterr().out)["items"]
    assert item["id"] == 2 and item["state"] == "pending"
    assert item["created_at"].endswith("Z") and "T" in item["created_at"]  # as the API writes it
