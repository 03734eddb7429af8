"""Recording alerts (docs/cases.md "Alerts"): one per channel and target, deduplicated, held
through quiet hours. Runs in the caller's transaction; delivery is server/alerts/delivery.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.alerts import texts
from server.alerts.wake import wake_after_commit
from server.models.cases import ALERT_EVENTS, Alert, AlertTarget, Case
from server.models.evaluations import Evaluation
from server.models.org import Hall, Staff, Window
from server.policy import Policy

_LOOKUP = 16  # suffixed keys looked up at once
_QUIET = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


def quiet_until(quiet_hours: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The end of the quiet hours ``now`` falls in (an aware UTC instant), or None when ``now``
    is outside them. ``quiet_hours`` is hall-local "HH:MM-HH:MM" and may wrap midnight
    ("22:00-07:00"); "" or an empty interval ("08:00-08:00") means none. Pure."""
    match = _QUIET.match(quiet_hours)
    if not match:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        return None
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    day = local.date()
    if start < end:
        if not start <= clock < end:
            return None
    elif clock >= start:
        day += timedelta(days=1)
    elif clock >= end:
        return None
    return datetime.combine(day, end, tzinfo=tz).astimezone(UTC)


def base_key(event: str, case_id: int, channel: str, target_id: int | None) -> str:
    return f"{event}:{case_id}:{channel}:{target_id or 0}"


def case_alert(
    session: Session, policy: Policy, case: Case, event: str, *, now: datetime
) -> list[Alert]:
    """Record the alerts for `event` (ALERT_EVENTS) of `case`: one per channel in
    policy.alerts.channels (dashboard: one; webhook/sms: one per active AlertTarget of the
    case's hall), deduplicated, quiet hours applied (not_before). Adds rows to the session;
    does not commit. The caller commits in the same transaction as the case change. Wakes the
    in-process deliverer after commit if any.

    Returns every row recorded, ``suppressed`` repeats included. An event not in
    policy.alerts.events records nothing."""
    if event not in ALERT_EVENTS:
        raise ValueError(f"unknown alert event {event!r}; events are {', '.join(ALERT_EVENTS)}")
    conf = policy.alerts
    if event not in conf.events or not conf.channels:
        return []
    if now.tzinfo is None:
        raise ValueError("naive datetime; an instant needs a time zone")
    if case.id is None:
        session.flush()
    title, body, payload = _content(session, case, event)
    hold = quiet_until(conf.quiet_hours, now, policy.tzinfo)
    targets: list[AlertTarget] = []
    if "webhook" in conf.channels or "sms" in conf.channels:
        targets = list(
            session.scalars(
                select(AlertTarget)
                .where(AlertTarget.hall_id == case.hall_id, AlertTarget.active.is_(True))
                .order_by(AlertTarget.id)
            )
        )
    slots: list[tuple[str, AlertTarget | None]] = []
    for channel in conf.channels:
        if channel == "dashboard":
            slots.append(("dashboard", None))
        else:
            slots += [(channel, t) for t in targets if t.channel == channel]
    recorded: list[Alert] = []
    for channel, target in slots:
        alert = _record(
            session,
            case,
            event,
            channel,
            target,
            now=now,
            window=timedelta(minutes=conf.dedupe_minutes),
            not_before=hold if (hold is not None and channel != "dashboard") else now,
            title=title,
            body=body,
            payload={**payload, "channel": channel},
        )
        if alert is not None:
            recorded.append(alert)
    if any(a.state == "pending" for a in recorded):
        wake_after_commit(session)
    return recorded


def _record(
    session: Session,
    case: Case,
    event: str,
    channel: str,
    target: AlertTarget | None,
    *,
    now: datetime,
    window: timedelta,
    not_before: datetime,
    title: str,
    body: str,
    payload: dict[str, Any],
) -> Alert | None:
    key = base_key(event, case.id, channel, target.id if target else None)
    earlier = _earlier(session, key)
    state = "sent" if channel == "dashboard" else "pending"
    if earlier:
        last = max((c for _k, c, s in earlier if s != "suppressed"), default=None)
        if last is not None and now - last < window:
            state = "suppressed"
        key = f"{key}#{len(earlier)}"
    alert = Alert(
        hall_id=case.hall_id,
        case_id=case.id,
        event=event,
        channel=channel,
        target_id=target.id if target else None,
        dedupe_key=key,
        title=title[:256],
        body=body,
        payload=payload,
        state=state,
        created_at=now,
        not_before=not_before,
        sent_at=now if state == "sent" else None,
    )
    # A concurrent transaction recording the same key wins; this one records nothing more.
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        return None
    return alert


def _earlier(session: Session, key: str) -> list[tuple[str, datetime, str]]:
    """(dedupe_key, created_at, state) of the alerts recorded under ``key`` and its suffixed
    repeats ``key#1``, ``key#2``, …: exact lookups on the unique index, a batch at a time."""
    found: list[tuple[str, datetime, str]] = []
    n = 0
    while True:
        keys = [key if i == 0 else f"{key}#{i}" for i in range(n, n + _LOOKUP)]
        rows = [
            (k, created, state)
            for k, created, state in session.execute(
                select(Alert.dedupe_key, Alert.created_at, Alert.state).where(
                    Alert.dedupe_key.in_(keys)
                )
            )
        ]
        found += rows
        if len(rows) < _LOOKUP:
            return found
        n += _LOOKUP


def _content(session: Session, case: Case, event: str) -> tuple[str, str, dict[str, Any]]:
    hall = session.get(Hall, case.hall_id)
    window = session.get(Window, case.window_id) if case.window_id else None
    staff = session.get(Staff, case.staff_id) if case.staff_id else None
    evaluation = session.get(Evaluation, case.evaluation_id) if case.evaluation_id else None
    level = evaluation.level if evaluation else ""
    window_code = window.code if window else str((case.extra or {}).get("window_code") or "")
    hall_code = hall.code if hall else ""
    first_due = case.first_due.isoformat() if case.first_due else ""
    due = case.due.isoformat() if case.due else ""
    facts = dict(
        kind=case.kind,
        number=case.number,
        window=window_code,
        staff=staff.name if staff else "",
        level=level,
        ticket=case.ticket or "",
    )
    title_zh, title_en = texts.titles(event, **facts)
    body_zh, body_en = texts.bodies(
        event,
        hall=(hall.name or hall_code) if hall else "",
        number=case.number,
        first_due=first_due,
        due=due,
        provisional=bool(case.provisional),
    )
    payload: dict[str, Any] = {
        "event": event,
        "case_id": case.id,
        "case_number": case.number,
        "kind": case.kind,
        "category": case.category,
        "hall_code": hall_code,
        "hall_name": hall.name if hall else "",
        "window": window_code,
        "staff": facts["staff"],
        "staff_number": staff.number if staff else "",
        "level": level,
        "ticket": facts["ticket"],
        "state": case.state,
        "flag": case.flag,
        "first_due": first_due or None,
        "due": due or None,
        "provisional": bool(case.provisional),
        "link": f"/cases/{case.id}",
        "title": title_zh,
        "body": body_zh,
        "title_en": title_en,
        "body_en": body_en,
    }
    return title_zh, body_zh, payload
