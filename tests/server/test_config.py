"""Settings: placeholder secrets are refused outside dev mode; dev mode keeps a generated one."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import Settings


def test_placeholder_secret_refused_in_production(tmp_path: Path) -> None:
    s = Settings(environment="production", data_dir=tmp_path, secret_key="changethis")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="HALLRATE_SECRET_KEY"):
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
