"""`hallrate lobby url` (docs/lobby.md "The URL and its key"): the URL the server accepts, and
one-line errors with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.lobby.cli import main
from tests.server.conftest import serve
from tests.support.migrated import MigratedTemplates

SECRET = "test-secret-not-a-placeholder"  # tests/server/conftest.py make_settings


@pytest.fixture
def env(
    sqlite_url: str,
    tmp_path: Path,
    migrated_templates: MigratedTemplates,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    migrated_templates.migrate(sqlite_url)
    monkeypatch.setenv("HALLRATE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HALLRATE_SECRET_KEY", SECRET)
    monkeypatch.delenv("HALLRATE_POLICY_FILE", raising=False)
    monkeypatch.delenv("HALLRATE_PUBLIC_URL", raising=False)
    return sqlite_url


def test_url_opens_the_lobby(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for server in serve(env, tmp_path):  # creates hall H1
        assert main(["url", "--hall", "H1", "--base", "https://screen.example.gov.cn/"]) == 0
        url = capsys.readouterr().out.strip()
        assert url.startswith("https://screen.example.gov.cn/lobby/H1?key=")
        path = url.removeprefix("https://screen.example.gov.cn")
        assert server.client.get(path).status_code == 200
        assert server.client.get("/api/v1" + path).json()["hall"]["code"] == "H1"
        assert main(["url", "--hall", "H1", "--lang", "en"]) == 0
        assert capsys.readouterr().out.strip() == f"http://127.0.0.1:8470{path}&lang=en"


def test_errors_are_one_line_exit_2(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _server in serve(env, tmp_path):
        assert main(["url", "--hall", "NOPE"]) == 2
        assert capsys.readouterr().err == "hallrate lobby: unknown hall 'NOPE'\n"
        with pytest.raises(SystemExit) as exc:
            main(["url", "--hall", "H1", "--base", "ftp://x"])
        assert exc.value.code == 2
        assert capsys.readouterr().err.startswith("hallrate lobby: HALLRATE_PUBLIC_URL: ")
        with pytest.raises(SystemExit) as exc:
            main(["url"])
        assert exc.value.code == 2


def test_missing_database_file_is_refused_not_created(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A mistyped HALLRATE_DATABASE_URL: one line and exit 2, and no empty database file left.
    missing = tmp_path / "typo" / "hallrate.db"
    monkeypatch.setenv("HALLRATE_DATABASE_URL", f"sqlite:///{missing}")
    assert main(["url", "--hall", "H1"]) == 2
    assert capsys.readouterr().err == (
        f"hallrate lobby: no database file {missing}: run `hallrate db upgrade` "
        "(or start with --migrate)\n"
    )
    assert not missing.exists()
