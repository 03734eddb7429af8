"""Settings: placeholder secrets are refused outside dev mode; dev mode keeps a generated one."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import Settings


def test_placeholder_secret_refused_in_production(tmp_path: Path) -> None:
    s = Settings(environment="production", data_dir=tmp_path, secret_key="changethis")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="HALLRATE_SECRET_KEY"):
        s.check()


def test_production_names_an_unset_secret_not_set(tmp_path: Path) -> None:
    for value in ("", "   "):
        s = Settings(environment="production", data_dir=tmp_path, secret_key=value)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^HALLRATE_SECRET_KEY is not set; production needs"):
            s.check()


def test_dev_mode_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).token_secret
    again = Settings(data_dir=tmp_path).token_secret
    assert first == again and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_env_prefix_and_database_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HALLRATE_PORT", "9000")
    s = Settings()
    assert s.port == 9000
    assert s.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'hallrate.db'}"


@pytest.mark.parametrize(
    "field,value",
    [
        ("bootstrap_admin", "no-colon"),
        ("bootstrap_gateway", "gw:key"),
        ("bootstrap_gateway", "a::c"),
    ],
)
def test_bootstrap_shapes_checked(field: str, value: str) -> None:
    with pytest.raises(ValueError):
        Settings(**{field: value})


# ---- production refuses weak set-ups (issue #12, report 5)

STRONG = "kX9vQ2mR7tL4wZ8nB3cF6hJ1pS5dG0yE-Uq_aVxNbTr"  # 43 urlsafe characters, 258 bits


def _prod(tmp_path: Path, **values: str) -> Settings:
    values.setdefault("secret_key", STRONG)
    return Settings(environment="production", data_dir=tmp_path, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "secret",
    [
        "CHANGE-ME",
        "change-me",
        "ChangeMe",
        "a",
        "password",
        "PASSWORD",
        "Secret",
        "change-me-" + STRONG,
        "x" * 64,
        "abcdefgh" * 8,
        "0123456789abcdef" * 3,
        STRONG[:30],
    ],
)
def test_production_refuses_weak_secrets(tmp_path: Path, secret: str) -> None:
    with pytest.raises(ValueError, match="HALLRATE_SECRET_KEY") as err:
        _prod(tmp_path, secret_key=secret).check()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "secret", [STRONG, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
)
def test_production_accepts_32_random_bytes(tmp_path: Path, secret: str) -> None:
    _prod(tmp_path, secret_key=secret).check()


@pytest.mark.parametrize(
    "password",
    [
        "change-me",
        "CHANGE-ME",
        "password",
        "Admin",
        "short-pw1",
        "admin-password-1",
        "aaaaaaaaaaaaaaaa",
    ],
)
def test_production_refuses_weak_bootstrap_admin_passwords(tmp_path: Path, password: str) -> None:
    with pytest.raises(ValueError, match="HALLRATE_BOOTSTRAP_ADMIN password"):
        _prod(tmp_path, bootstrap_admin=f"admin:{password}").check()


@pytest.mark.parametrize("key", ["change-me", "CHANGE-ME", "secret", "gateway-key", "0123abcd"])
def test_production_refuses_weak_bootstrap_gateway_keys(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="HALLRATE_BOOTSTRAP_GATEWAY API key"):
        _prod(tmp_path, bootstrap_gateway=f"gw-H1:{key}:H1").check()


def test_production_accepts_strong_bootstrap_values(tmp_path: Path) -> None:
    _prod(
        tmp_path,
        bootstrap_admin="admin:Tq8#vR2!pLz6-wK",
        bootstrap_gateway="gw-H1:hrk_Zp3xQ9vL2mT7wR4nK8bF1cH6:H1",
    ).check()


def test_serve_refuses_production_placeholder_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from server import serve

    monkeypatch.setenv("HALLRATE_ENVIRONMENT", "production")
    monkeypatch.setenv("HALLRATE_SECRET_KEY", "CHANGE-ME")
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path))
    assert serve.main(["--port", "1"]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "HALLRATE_SECRET_KEY is a placeholder" in out


# ---- a bad setting ends every command with one line and exit 2 (docs/api.md)

BAD_SETTINGS = [
    ("HALLRATE_PHONE_RETENTION_DAYS", "0", "Input should be greater than or equal to 1"),
    ("HALLRATE_ENVIRONMENT", "prod", "Input should be 'dev' or 'production'"),
    ("HALLRATE_PORT", "abc", "Input should be a valid integer"),
]


def _one_line_exit_2(
    run: object, capsys: pytest.CaptureFixture[str], command: str, name: str, reason: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        run()  # type: ignore[operator]
    assert exc.value.code == 2
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert text.count("\n") == 1, text
    assert text.startswith(f"hallrate {command}: {name}: {reason}"), text
    assert "Traceback" not in text and "validation error" not in text


@pytest.mark.parametrize(("name", "value", "reason"), BAD_SETTINGS)
def test_bad_setting_stops_server_and_db_commands_with_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    reason: str,
) -> None:
    from server import db_cli, serve

    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(name, value)
    url = f"sqlite:///{tmp_path}/x.db"
    runs = {
        "server": lambda: serve.main([]),
        "db purge-personal-data": lambda: db_cli.main(["purge-personal-data", "--dry-run"]),
        "db upgrade": lambda: db_cli.main(["upgrade", "--database-url", url]),
    }
    for command, run in runs.items():
        _one_line_exit_2(run, capsys, command, name, reason)
    assert not (tmp_path / "data").exists() and not (tmp_path / "x.db").exists()


def test_bad_setting_stops_an_import_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from server import import_cli

    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HALLRATE_PHONE_RETENTION_DAYS", "0")
    csv = Path(__file__).parent / "data" / "sms_replies_zh.csv"
    argv = [str(csv), "--channel", "sms", "--hall", "H1"]
    _one_line_exit_2(
        lambda: import_cli.main(argv),
        capsys,
        "import",
        "HALLRATE_PHONE_RETENTION_DAYS",
        "Input should be greater than or equal to 1 (got '0')",
    )


def test_bad_setting_echoes_no_secret() -> None:
    from pydantic import ValidationError

    from server.settings_cli import describe

    with pytest.raises(ValidationError) as exc:
        Settings(bootstrap_admin="root-and-s3cret-password")
    line = describe(exc.value)
    assert line == "HALLRATE_BOOTSTRAP_ADMIN: bootstrap_admin must be 'username:password'"
