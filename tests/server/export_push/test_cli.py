"""`hallrate export run | status | reconcile | retry` against the fake platform, and the clear
one-line errors of a bad targets file, setting, target name or period (exit 2, nothing done)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.cli import main
from server.db import make_engine, make_sessionmaker
from server.models import ExportOutbox
from simulator.province.server import PlatformServer
from simulator.province.state import Config
from tests.server.export_push.fixtures import SECRET, admin, live_records, platform, seed
from tests.support.migrated import MigratedTemplates

TARGETS = """
[[target]]
name = "prov-a"
profile = "province-a"
url = "{push}"
query_url = "{query}"
halls = ["H1"]
secret_env = "PROV_A_TOKEN"
since = 2026-10-01
"""


@pytest.fixture(autouse=True)
def _logging() -> Iterator[None]:
    """`hallrate export run` sets up JSON logs on this test's stderr: undone afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def cli_url(sqlite_url: str, migrated_templates: MigratedTemplates) -> str:
    """The command line on SQLite (the storage runs on both databases in the other tests)."""
    migrated_templates.migrate(sqlite_url)
    return sqlite_url


@pytest.fixture
def env(
    cli_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[PlatformServer, Path]]:
    engine = make_engine(cli_url)
    with make_sessionmaker(engine)() as s:
        seed(s, 12)
        s.commit()
    engine.dispose()
    with platform("province-a", Config(reject_ids=set(), seed=1)) as server:
        targets = tmp_path / "targets.toml"
        targets.write_text(TARGETS.format(push=server.push_url, query=server.query_url))
        monkeypatch.setenv("HALLRATE_DATABASE_URL", cli_url)
        monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("HALLRATE_EXPORT_TARGETS", str(targets))
        monkeypatch.setenv("HALLRATE_EXPORT_VISIBILITY_DELAY_SECONDS", "0")
        monkeypatch.setenv("HALLRATE_EXPORT_RETRY_BASE_SECONDS", "0")
        monkeypatch.setenv("PROV_A_TOKEN", SECRET)
        yield server, targets


def _rows(url: str, state: str) -> int:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        n = s.scalar(select(func.count(ExportOutbox.id)).where(ExportOutbox.state == state))
    engine.dispose()
    return int(n or 0)


def test_run_status_reconcile_retry(
    env: tuple[PlatformServer, Path], cli_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = env
    admin(server, "config", {"reject_ids": ["x"], "reject_times": 0})
    assert main(["export", "run", "--once"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("target prov-a: checked none; queued 12 new, corrections none")
    assert "accepted 12, refused 0 (to retry), rejected 0, no answer 0" in out
    assert set(live_records(server).values()) == {1} and len(live_records(server)) == 12

    assert main(["export", "status"]) == 0
    out = capsys.readouterr().out
    assert "target prov-a (province-a, enabled, halls H1, since 2026-10-01)" in out
    assert "  outbox: pending 0, sending 0, accepted 12, rejected 0, failed 0" in out
    # Hall-local, to the second, as docs/export.md shows it.
    assert re.search(r"^  last accepted \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$", out, re.M), out

    assert main(["export", "reconcile", "--target", "prov-a", "--period", "2026Q4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "target prov-a, 2026Q4: hallrate 12 records, platform 12; "
        "missing 0, extra 0, level 0, channel 0, unreadable 0"
    )

    # A platform that refuses everything for good: rejected after max attempts; retry.
    first = next(iter(live_records(server)))
    admin(server, "reset", {})
    admin(server, "config", {"reject_fraction": 1.0, "reject_times": 0})
    assert (
        main(["export", "reconcile", "--target", "prov-a", "--period", "2026Q4", "--requeue"]) == 0
    )
    out = capsys.readouterr().out
    assert "missing 12" in out and "requeued 12 lost records" in out
    assert first in out
    os.environ["HALLRATE_EXPORT_MAX_ATTEMPTS"] = "2"
    try:
        assert main(["export", "run", "--once"]) == 0
        assert main(["export", "run", "--once"]) == 0
    finally:
        del os.environ["HALLRATE_EXPORT_MAX_ATTEMPTS"]
    assert _rows(cli_url, "rejected") == 12
    capsys.readouterr()
    assert main(["export", "status", "--state", "rejected", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "ALERT export_rejected: target prov-a: 12 records rejected" in out
    assert len([ln for ln in out.splitlines() if ln.startswith("prov-a\t")]) == 2
    assert "模拟拒收" in out
    admin(server, "config", {"reject_fraction": 0.0})
    assert main(["export", "retry", "--target", "prov-a"]) == 0
    assert "12 refused by the platform to send again" in capsys.readouterr().out
    assert main(["export", "run", "--once"]) == 0
    assert len(live_records(server)) == 12 and set(live_records(server).values()) == {1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[target]]\nname = 1\n", "name: 1-64 letters, digits, '-' or '_'"),
        ("x = 1\n", "unknown key 'x' (only [[target]] tables)"),
        ("[[target\n", "not valid TOML"),
        ("", "no [[target]] table"),
        (TARGETS.replace('"{push}"', '"ftp://x"'), "url: an http:// or https:// URL"),
        (TARGETS.replace('"province-a"', '"province-z"'), "unknown profile 'province-z'"),
        (TARGETS.replace("since = 2026-10-01", 'since = "soon"'), "since: a date, e.g. 2026-10-01"),
        (TARGETS.replace('secret_env = "PROV_A_TOKEN"\n', ""), "secret_env: missing (profile"),
        (TARGETS.replace('halls = ["H1"]', "halls = []"), "halls: a non-empty list"),
        (TARGETS + TARGETS, "name: 'prov-a' is used by an earlier target"),
        (TARGETS.replace("since", "colour = 1\nsince"), "unknown key 'colour'"),
    ],
)
def test_bad_targets_file_is_one_clear_line(
    env: tuple[PlatformServer, Path],
    cli_url: str,
    text: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, path = env
    path.write_text(text.replace("{push}", "http://x/r").replace("{query}", "http://x/q"))
    assert main(["export", "run", "--once"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hallrate export: {path}: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert _rows(cli_url, "pending") + _rows(cli_url, "accepted") == 0


@pytest.mark.parametrize(
    ("argv", "setting", "message"),
    [
        (["run", "--once"], ("HALLRATE_EXPORT_TARGETS", ""), "HALLRATE_EXPORT_TARGETS is not set"),
        (["run", "--once"], ("HALLRATE_EXPORT_TARGETS", "/nonexistent.toml"), "no such file"),
        (
            ["run", "--once"],
            ("HALLRATE_EXPORT_MAX_ATTEMPTS", "0"),
            "HALLRATE_EXPORT_MAX_ATTEMPTS: Input should be greater than or equal to 1",
        ),
        (["run", "--once", "--target", "nope"], None, "no target named 'nope' (targets: prov-a)"),
        (["reconcile", "--target", "prov-a", "--period", "2026Q9"], None, "period '2026Q9'"),
        (["status", "--limit", "0"], None, "argument --limit: must be 1 or more"),
        (["status", "--target", "nope"], None, "no target named 'nope' (targets: prov-a)"),
        (
            ["status"],
            ("HALLRATE_DATABASE_URL", "bogus://user:pw@host/db"),
            "cannot open the database bogus://user:***@host/db: Can't load plugin",
        ),
    ],
)
def test_bad_input_is_one_clear_line(
    env: tuple[PlatformServer, Path],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    setting: tuple[str, str] | None,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if setting is not None:
        monkeypatch.setenv(*setting)
    with pytest.raises(SystemExit) if argv[-1] == "0" else _nothing():
        assert main(["export", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hallrate export") and message in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_missing_secret_and_unknown_hall_are_reported(
    env: tuple[PlatformServer, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, path = env
    monkeypatch.delenv("PROV_A_TOKEN")
    assert main(["export", "run", "--once"]) == 1
    assert "ERROR target prov-a: environment variable PROV_A_TOKEN is not set" in (
        capsys.readouterr().out
    )
    monkeypatch.setenv("PROV_A_TOKEN", SECRET)
    path.write_text(path.read_text().replace('["H1"]', '["H1", "H9"]'))
    assert main(["export", "run", "--once"]) == 1
    assert "ERROR unknown hall(s) H9 in the targets file" in capsys.readouterr().out


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
