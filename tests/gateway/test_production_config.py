"""Issue #12 report 5: a production gateway refuses the example's change-me credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import cli
from gateway.config import ConfigError, load

EXAMPLE = Path(__file__).resolve().parents[2] / "gateway" / "hall.example.toml"
PROD = {"HALLRATE_ENVIRONMENT": "production"}


def _with(tmp_path: Path, old: str, new: str, text: str | None = None) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8") if text is None else text
    assert old in text
    p = tmp_path / "hall.toml"
    p.write_text(text.replace(old, new), encoding="utf-8")
    return p


def test_example_config_loads_in_dev() -> None:
    assert load(EXAMPLE, env={}).server.api_key == "change-me"


@pytest.mark.parametrize("value", ["change-me", "CHANGE-ME", "ChangeMe"])
def test_production_refuses_placeholder_api_key(tmp_path: Path, value: str) -> None:
    p = _with(tmp_path, 'password = "change-me"', 'password = "Zp3xQ9vL2mT7wR4nK8bF1cH6"')
    p = _with(tmp_path, 'api_key = "change-me"', f'api_key = "{value}"', p.read_text())
    with pytest.raises(ConfigError, match=r"server\.api_key is a placeholder"):
        load(p, env=PROD)


def test_production_refuses_placeholder_broker_password(tmp_path: Path) -> None:
    p = _with(tmp_path, 'api_key = "change-me"', 'api_key = "hrk_Zp3xQ9vL2mT7wR4nK8bF1cH6"')
    with pytest.raises(ConfigError, match=r"broker\.password is a placeholder"):
        load(p, env=PROD)


def test_production_accepts_real_values(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("change-me", "Zp3xQ9vL2mT7wR4nK8bF1cH6")
    p = tmp_path / "hall.toml"
    p.write_text(text, encoding="utf-8")
    assert load(p, env=PROD).server.api_key.startswith("Zp3x")


def test_cli_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HALLRATE_ENVIRONMENT", "production")
    assert cli.main(["run", "--config", str(EXAMPLE)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a placeholder" in err
