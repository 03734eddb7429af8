"""The pure firmware modules' tests, run by a tiny runner on MicroPython and on CPython."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import REPO

MP_TESTS = Path(__file__).parent / "mp_tests"
MODULES = sorted(p.stem for p in MP_TESTS.glob("mp_*.py"))
# Modules the CPython simulator imports too; the others use MicroPython-only time functions.
PORTABLE = [
    "mp_ballot_box",
    "mp_beam_traces",
    "mp_ed25519",
    "mp_evaluator",
    "mp_loader",
    "mp_ota_image",
    "mp_outbox",
    "mp_outbox_format",
]


def _run(interpreter: str, tmp_path: Path, modules: list[str]) -> None:
    proc = subprocess.run(
        [interpreter, str(MP_TESTS / "run.py"), str(REPO / "firmware"), str(tmp_path), *modules],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "failed 0" in out and "FAIL" not in out, out
    assert f"passed {out.count(chr(10) + 'ok ') + out.startswith('ok ')}" in out


@pytest.mark.micropython
@pytest.mark.timeout(120)
def test_pure_modules_on_micropython(micropython: str, tmp_path: Path) -> None:
    assert len(MODULES) >= 5
    _run(micropython, tmp_path, MODULES)


@pytest.mark.timeout(120)
def test_pure_modules_on_cpython(tmp_path: Path) -> None:
    _run(sys.executable, tmp_path, PORTABLE)
