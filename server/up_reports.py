"""The publication schedule of `hallrate up` (README "make demo", docs/reports.md "Schedule"):
`hallrate report schedule --out <data dir>/reports --every N`, one more component of the stack,
writing each finished period's 差评 report, ranking and appraisal sheet of the demo hall."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

DEFAULT_EVERY_S = 3600
FORMATS = ("--format", "xlsx,pdf")
MAX_EVERY_S = 86400
Spawn = Callable[[list[str], Path, dict[str, str], Path], subprocess.Popen[bytes]]


def every_seconds(text: str) -> int:
    """`--reports-every`: whole seconds 0..86400 (0: no schedule)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_EVERY_S:
        raise argparse.ArgumentTypeError(f"whole seconds 0..{MAX_EVERY_S} (0: off), not {text!r}")
    return value


def reports_dir(data: Path) -> Path:
    return data / "reports"


def schedule_argv(data: Path, every: int) -> list[str]:
    hallrate = [sys.executable, "-m", "server.cli"]
    out = str(reports_dir(data))
    # XLSX first: the quick file of a period is there while its PDF is being made.
    return [*hallrate, "report", "schedule", "--out", out, "--every", str(every), *FORMATS]


def start_reports(
    data: Path, every: int, env: dict[str, str], logs: Path, spawn: Spawn
) -> list[subprocess.Popen[bytes]]:
    """Start the schedule (none with ``every`` 0); its folder exists from the start."""
    if not every:
        return []
    reports_dir(data).mkdir(parents=True, exist_ok=True)
    return [spawn(schedule_argv(data, every), logs / "reports.log", env, data)]


def banner_line(data: Path, every: int) -> str:
    if not every:
        return "  reports 通报         off (--reports-every 0)"
    return f"  reports 通报         {reports_dir(data)} (every {every} s)"
