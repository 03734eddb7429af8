"""When to call again after a retry disposition (docs/phone-callbacks.md "Calls"). Pure.

The next call is the start of a ``call_hours`` span on a working day, at least
``retry_after_minutes`` after the attempt. Among the next starts (one round of the day's spans),
the first in a span no earlier attempt of the entry fell in is taken; failing that, the first in
a span other than the latest attempt's; failing that, the first start. Calls never fall outside
``call_hours`` or on a non-working day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Spans = Sequence[tuple[time, time]]
# Working days checked before giving up (a calendar with months of holidays is a mistake).
MAX_DAYS = 366


def span_of(at: datetime, spans: Spans, zone: ZoneInfo) -> int | None:
    """The index of the call_hours span ``at`` lies in (local time), or None if outside."""
    clock = at.astimezone(zone).time()
    for index, (start, end) in enumerate(spans):
        if start <= clock < end:
            return index
    return None


def inside_call_hours(
    at: datetime, spans: Spans, zone: ZoneInfo, is_working_day: Callable[[date], bool]
) -> bool:
    local = at.astimezone(zone)
    return is_working_day(local.date()) and span_of(at, spans, zone) is not None


def _starts(
    earliest: datetime, spans: Spans, zone: ZoneInfo, is_working_day: Callable[[date], bool]
) -> list[tuple[datetime, int]]:
    """The next len(spans) span starts at or after ``earliest`` on working days."""
    local = earliest.astimezone(zone)
    day = local.date()
    found: list[tuple[datetime, int]] = []
    for _ in range(MAX_DAYS):
        if is_working_day(day):
            for index, (start, _end) in enumerate(spans):
                at = datetime.combine(day, start, zone)
                if at >= earliest:
                    found.append((at, index))
                    if len(found) == len(spans):
                        return found
        day += timedelta(days=1)
    if not found:
        raise ValueError(f"no working day within {MAX_DAYS} days after {local.date()}")
    return found


def next_call_at(
    attempt_at: datetime,
    earlier: Sequence[datetime],
    *,
    spans: Spans,
    retry_after_minutes: int,
    zone: ZoneInfo,
    is_working_day: Callable[[date], bool],
) -> datetime:
    """The next call of an entry whose attempt at ``attempt_at`` asks for a retry; ``earlier``
    are the times of the entry's attempts before it. Returns an aware datetime in ``zone``."""
    earliest = attempt_at + timedelta(minutes=retry_after_minutes)
    candidates = _starts(earliest, spans, zone, is_working_day)
    used = {span_of(at, spans, zone) for at in (*earlier, attempt_at)} - {None}
    for at, index in candidates:
        if index not in used:
            return at
    latest = span_of(attempt_at, spans, zone)
    for at, index in candidates:
        if index != latest:
            return at
    return candidates[0][0]
