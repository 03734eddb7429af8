"""The daily-list worker (docs/phone-callbacks.md "The worker"): on each working day, from
``[callbacks] draw_at`` (hall-local time) on, every hall's daily list of that day is drawn once.
It runs as `hallrate callbacks worker` (one pass) or `hallrate callbacks worker --every SECONDS`
(a loop), a separate process like the SMS sender (docs/adr/0010-sms-worker.md); a pass that finds
the day's list already drawn does nothing, so several workers or a re-run are harmless."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.calendar import WorkingDays, working_days
from server.callbacks.draw import DAILY_MODES, DrawError, draw_worklist
from server.callbacks.policy import parse_clock
from server.models import Hall
from server.policy import Policy

WORKER = "worker"


def due_daily(now: datetime, policy: Policy, wd: WorkingDays) -> date | None:
    """The work day whose daily list is due at ``now`` (aware), or None: draw_at is empty, no
    daily mode is on, today (hall-local) is not a working day, or draw_at has not come yet."""
    cb = policy.callbacks
    if not cb.draw_at or not any(m in cb.modes for m in DAILY_MODES):
        return None
    local = now.astimezone(policy.tzinfo)
    if not wd.is_working_day(local.date()):
        return None
    if local.time() < parse_clock(cb.draw_at, "draw_at"):
        return None
    return local.date()


def run_once(sessions: sessionmaker[Session], policy: Policy, now: datetime) -> list[str]:
    """One pass: a line per hall whose list was drawn now, or failed."""
    lines: list[str] = []
    with sessions() as session:
        day = due_daily(now, policy, working_days(session, policy))
        if day is None:
            return lines
        halls = list(session.scalars(select(Hall.code).order_by(Hall.code)))
    for code in halls:
        with sessions() as session:
            try:
                res = draw_worklist(
                    session, code, "daily", day, policy=policy, now=now, created_by=WORKER
                )
            except DrawError as e:
                lines.append(f"{code} daily {day}: not drawn ({e})")
                continue
            if res.created:
                wl = res.worklist
                lines.append(
                    f"{code} daily {day}: drew worklist {wl.id} ({wl.planned} entries, "
                    f"days {wl.served_from}..{wl.served_to})"
                    + (" [calendar provisional]" if wl.calendar_provisional else "")
                )
    return lines
