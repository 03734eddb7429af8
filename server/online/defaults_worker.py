"""When the default rating job runs by itself (docs/online-rating.md "Default ratings"):
`hallrate online defaults --every SECONDS` runs it once at start-up (the catch-up after
downtime), then once a day when the hall-local clock passes ``[default_rating] run_at``.
`hallrate up` starts it beside the SMS sender; a hall runs it as a service or from a timer
(a second worker, or a re-run, creates nothing: every write is keyed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time

from sqlalchemy.orm import Session, sessionmaker

from server.online.defaults import DefaultsResult, run_defaults
from server.policy import Policy


def run_at(policy: Policy) -> time:
    hours, minutes = policy.default_rating.run_at.split(":")
    return time(int(hours), int(minutes))


def scheduled_day(now: datetime, policy: Policy, last_run: date | None) -> date | None:
    """The hall-local day whose daily run is due at ``now`` (aware): today once ``run_at``
    has passed and today's run has not been done; else None."""
    local = now.astimezone(policy.tzinfo)
    if local.time() < run_at(policy) or last_run == local.date():
        return None
    return local.date()


class Worker:
    """The loop's state: whether the start-up run succeeded, and the day of the last daily
    run. ``tick`` runs the job when it is due and returns its result (None: nothing due). A
    run that fails (the database away) is tried again at the next tick."""

    def __init__(self, sessions: sessionmaker[Session], policy: Policy) -> None:
        self.sessions = sessions
        self.policy = policy
        self.last_run: date | None = None
        self.caught_up = False

    def tick(self, now: datetime) -> DefaultsResult | None:
        local = now.astimezone(self.policy.tzinfo)
        if self.caught_up and scheduled_day(now, self.policy, self.last_run) is None:
            return None
        with self.sessions() as session:
            result = run_defaults(session, self.policy, local.date())
        self.caught_up = True
        if local.time() >= run_at(self.policy):
            self.last_run = local.date()  # a start-up run after run_at stands for today's
        return result


def loop(
    worker: Worker,
    every: float,
    clock: Callable[[], datetime],
    report: Callable[[DefaultsResult], None],
    failed: Callable[[Exception], None],
    sleep: Callable[[float], object],
) -> None:
    """Tick every ``every`` seconds until stopped (KeyboardInterrupt, SIGTERM); a failed run
    is reported and the loop goes on."""
    while True:
        try:
            result = worker.tick(clock())
        except Exception as exc:  # the database away: report, try again at the next tick
            failed(exc)
        else:
            if result is not None:
                report(result)
        sleep(every)
