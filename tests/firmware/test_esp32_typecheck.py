"""The ESP32 hal, main.py and loader.py type-check against micropython-esp32-stubs (mypy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.firmware import esp32_typecheck


@pytest.mark.timeout(300)
def test_esp32_hal_typechecks_against_the_stubs(tmp_path: Path) -> None:
    proc = esp32_typecheck.run(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues found in 3 source files" in proc.stdout  # hal.esp32, main, loader
