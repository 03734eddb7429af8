"""The export worker: `hallrate export run` — one pass per enabled target, then again every
HALLRATE_EXPORT_POLL_SECONDS until stopped (SIGTERM / Ctrl-C end it after the pass under way);
``--once``: one pass (docs/export.md "Push"). Settings: HALLRATE_EXPORT_* (docs/export.md
"Settings")."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TextIO

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.logs import event
from server.export.outbox import Timing
from server.export.push import Pusher, RunReport
from server.export.targets import Target

log = logging.getLogger("hallrate.export")


class ExportSettings(BaseSettings):
    """HALLRATE_EXPORT_* of the pusher (docs/export.md "Settings"); HALLRATE_EXPORT_TARGETS
    is read by server/export/targets.py."""

    model_config = SettingsConfigDict(env_prefix="HALLRATE_EXPORT_", extra="ignore")

    poll_seconds: float = Field(default=60, gt=0, le=86400)
    retry_base_seconds: float = Field(default=30, ge=0, le=3600)
    retry_cap_seconds: float = Field(default=1800, ge=0, le=86400)
    max_attempts: int = Field(default=8, ge=1, le=50)
    visibility_delay_seconds: float = Field(default=60, ge=0, le=3600)

    def timing(self) -> Timing:
        return Timing(
            retry_base=timedelta(seconds=self.retry_base_seconds),
            retry_cap=timedelta(seconds=self.retry_cap_seconds),
            max_attempts=self.max_attempts,
            visibility_delay=timedelta(seconds=self.visibility_delay_seconds),
        )


def load_export_settings() -> ExportSettings:
    """HALLRATE_EXPORT_* from the environment; ValueError naming the bad variable."""
    from server.settings_cli import describe

    try:
        return ExportSettings()
    except ValidationError as exc:
        raise ValueError(describe(exc).replace("HALLRATE_", "HALLRATE_EXPORT_")) from None


def one_pass(pusher: Pusher, targets: list[Target], out: TextIO | None = None) -> list[RunReport]:
    """A pass over ``targets``; a target's failure (its platform away, the database busy) is
    reported and the next target still runs."""
    reports = []
    for target in targets:
        try:
            report = pusher.run_once(target)
        except Exception as exc:  # the database is away: this target again next pass
            log.exception("export: target %s: pass failed", target.name)
            report = RunReport(target.name, errors=[f"pass failed: {type(exc).__name__}: {exc}"])
        reports.append(report)
        if report.errors:
            event(log, "export_target_error", logging.WARNING, target=target.name,
                  error="; ".join(report.errors))  # fmt: skip
        if out is not None:
            print(report.line(), file=out, flush=True)
    return reports


def run_loop(
    pusher: Pusher,
    targets: list[Target],
    every: float,
    stop: threading.Event,
    out: TextIO | None = None,
    passes: Callable[[list[RunReport]], None] | None = None,
) -> None:
    """Passes every ``every`` seconds until ``stop`` is set."""
    while not stop.is_set():
        reports = one_pass(pusher, targets, out)
        if passes is not None:
            passes(reports)
        stop.wait(every)
