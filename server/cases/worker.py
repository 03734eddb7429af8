"""The case tick inside `hallrate server` (docs/cases.md "Command line"): a daemon thread that
runs ``tick`` every ``HALLRATE_CASES_TICK_SECONDS`` (default 300; 0 = off, then run
`hallrate cases tick --every SECONDS`). The first tick comes one interval after start-up.
Cheap: one query of the open cases; ticks of several processes serialise (server/cases/tick.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.orm import Session, sessionmaker

from server.cases.tick import TickResult, tick
from server.policy import Policy

log = logging.getLogger("hallrate.cases")


class CaseSettings(BaseSettings):
    """HALLRATE_CASES_* (docs/cases.md "Command line")."""

    model_config = SettingsConfigDict(env_prefix="HALLRATE_CASES_", extra="ignore")

    tick_seconds: float = Field(default=300.0, ge=0, le=86400)


def load_case_settings() -> CaseSettings:
    """HALLRATE_CASES_* from the environment; ValueError naming the bad variable."""
    from server.settings_cli import describe

    try:
        return CaseSettings()
    except ValidationError as exc:
        raise ValueError(describe(exc).replace("HALLRATE_", "HALLRATE_CASES_")) from None


def utc_now() -> datetime:
    return datetime.now(UTC)


class BackgroundTick:
    """Runs ``tick`` every ``every`` seconds in a daemon thread until ``stop``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        policy: Policy,
        every: float,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.sessions, self.policy, self.every, self.clock = sessions, policy, every, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="case-tick", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def run_once(self) -> TickResult:
        with self.sessions() as session:
            return tick(session, self.policy, now=self.clock())

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                result = self.run_once()
                if result.flags or result.recomputed:
                    log.info("cases: tick %s", result.to_dict())
            except Exception:  # the database is away: try again at the next tick
                log.exception("cases: tick failed")


def start_in_process(
    sessions: sessionmaker[Session], policy: Policy, settings: CaseSettings | None = None
) -> BackgroundTick | None:
    """The server's tick thread, started; None when HALLRATE_CASES_TICK_SECONDS is 0."""
    conf = settings or load_case_settings()
    if not conf.tick_seconds:
        return None
    background = BackgroundTick(sessions, policy, conf.tick_seconds)
    background.start()
    return background
