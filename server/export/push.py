"""One push pass per target: check, enqueue, send (docs/export.md "Push").

A pass is safe to kill at any instant and to run again, also next to another pass:

1. **Check**: rows left in ``sending`` past their wait (a timeout, a dropped answer, a pusher
   killed mid-request) are looked up with the platform's query by record id. Found as sent →
   ``accepted``; not there → ``pending`` again (``failed`` once the attempts are used up); the
   query failing → asked again after the backoff. Nothing is sent twice on a guess.
2. **Enqueue**: new ratings and corrections (server/export/enqueue.py).
3. **Send**: claim up to the profile's ``batch_size`` due rows (committed as ``sending`` before
   the request), POST them, and keep each record's answer: accepted (with the platform's
   reference), or refused → retried after the backoff, ``rejected`` once the attempts are used
   up. A record the answer does not mention stays ``sending`` for the check. Acknowledgements
   of records not in the batch, and repeats of one, change nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from server.export import outbox
from server.export.client import PlatformClient, PlatformError, PushAnswer
from server.export.codec import DecodeError, Result, decode
from server.export.enqueue import EnqueueReport, content, enqueue, hall_ids, skipped_channels
from server.export.outbox import Change, Timing
from server.export.targets import Target, TargetsError
from server.models import ExportOutbox

log = logging.getLogger("hallrate.export")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunReport:
    target: str
    checked: dict[str, int] = field(default_factory=dict)  # outcome -> rows
    queued: EnqueueReport = field(default_factory=EnqueueReport)
    requests: int = 0
    accepted: int = 0
    refused: int = 0  # to retry
    rejected: int = 0  # refused for good
    uncertain: int = 0  # left in sending for the check
    errors: list[str] = field(default_factory=list)

    def note(self, outcome: str) -> None:
        self.checked[outcome] = self.checked.get(outcome, 0) + 1

    def line(self) -> str:
        q = self.queued
        corr = ", ".join(f"{k} {v}" for k, v in sorted(q.corrections.items())) or "none"
        skipped = "; ".join(f"{n} ({why})" for why, n in sorted(q.skipped.items())) or "none"
        checked = ", ".join(f"{k} {v}" for k, v in sorted(self.checked.items())) or "none"
        text = (
            f"target {self.target}: checked {checked}; queued {q.created} new, "
            f"corrections {corr}, rejected locally {q.rejected}; skipped {skipped}; "
            f"requests {self.requests}: accepted {self.accepted}, refused {self.refused} "
            f"(to retry), rejected {self.rejected}, no answer {self.uncertain}"
        )
        return text + "".join(f"; ERROR {e}" for e in self.errors)


def applied(row: ExportOutbox, item: dict[str, Any] | None, target: Target) -> bool:
    """Whether the platform's item for a record (None: it holds none) shows ``row`` done."""
    profile = target.profile
    try:
        mine = decode(row.payload, profile)
    except DecodeError:
        return False
    if mine["op"] == "withdraw" and profile.corrections.mode == "withdraw":
        return item is None
    if item is None:
        return False
    if mine["op"] == "create":
        return True  # the record is there: this create (or one before it) arrived
    try:
        theirs = decode(item, profile)
    except DecodeError:
        return False
    same = content(item, profile) == content(row.payload, profile)
    return same and theirs["valid"] == mine["valid"]


class Pusher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        zone: ZoneInfo,
        timing: Timing | None = None,
        clock: Callable[[], datetime] = _utcnow,
        client_factory: Callable[[Target, str], PlatformClient] = PlatformClient,
    ) -> None:
        self.sessions = sessions
        self.zone = zone
        self.timing = timing or Timing()
        self.clock = clock
        self.client_factory = client_factory

    def run_once(self, target: Target) -> RunReport:
        report = RunReport(target.name)
        with self.sessions() as session:
            halls = hall_ids(session, target.halls)
        unknown = [h for h in target.halls if h not in halls]
        if unknown:
            report.errors.append(f"unknown hall(s) {', '.join(unknown)} in the targets file")
            return report
        try:
            client = self.client_factory(target, target.secret())
        except TargetsError as e:
            report.errors.append(str(e))
            return report
        try:
            self.check(target, client, report)
            with self.sessions() as session:
                now = self.clock()
                report.queued = enqueue(
                    session,
                    target.name,
                    target.profile,
                    list(halls.values()),
                    target.since,
                    self.zone,
                    now,
                )
                report.queued.skipped.update(
                    skipped_channels(session, target.profile, list(halls.values()), target.since)
                )
            self.send(target, client, report)
        finally:
            client.close()
        return report

    # ---- check ----------------------------------------------------------------------------

    def check(self, target: Target, client: PlatformClient, report: RunReport) -> None:
        now = self.clock()
        with self.sessions() as session:
            rows = outbox.due_sending(session, target.name, now)
            if not rows:
                return
            changes: list[Change] = []
            if not target.query_url:  # no way to look: send again (the platform dedupes)
                changes = [self._again(r, now, "no answer; no query_url to check") for r in rows]
            else:
                try:
                    found = client.records([r.record_id for r in rows])
                except PlatformError as e:
                    report.note("query_failed")
                    report.errors.append(str(e))
                    found = {}
                    for row in rows:
                        wait = now + self.timing.backoff(row.attempts)
                        values = {"next_attempt_at": wait, "last_error": str(e)}
                        changes.append(Change(row.id, "sending", row.attempts, values))
                for row in rows if not changes else []:
                    if applied(row, found.get(row.record_id), target):
                        values = {"accepted_at": now, "last_error": None}
                        changes.append(Change(row.id, "accepted", row.attempts, values))
                    else:
                        changes.append(self._again(row, now, "not at the platform"))
            for c in changes:
                if c.state != "sending":
                    report.note({"accepted": "found", "pending": "resend"}.get(c.state, c.state))
            outbox.apply(session, changes)

    def _again(self, row: ExportOutbox, now: datetime, why: str) -> Change:
        if row.attempts >= self.timing.max_attempts:
            why = f"{why} after {row.attempts} attempts"
            return Change(row.id, "failed", row.attempts, {"last_error": why})
        return Change(row.id, "pending", row.attempts, {"next_attempt_at": now})

    # ---- send -----------------------------------------------------------------------------

    def send(self, target: Target, client: PlatformClient, report: RunReport) -> None:
        lease = timedelta(seconds=target.timeout_seconds) + self.timing.visibility_delay
        with self.sessions() as session:
            while True:
                now = self.clock()
                rows = outbox.claim(session, target.name, target.profile.batch_size, now, lease)
                if not rows:
                    return
                report.requests += 1
                answer = client.push([r.payload for r in rows])
                by_id: dict[str, list[Result]] = defaultdict(list)
                for result in answer.results or []:
                    by_id[result.record_id].append(result)
                now = self.clock()
                changes = [
                    self._record(row, answer, by_id.get(row.record_id, []), now, report)
                    for row in rows
                ]
                outbox.apply(session, changes)

    def _record(
        self,
        row: ExportOutbox,
        answer: PushAnswer,
        mine: list[Result],
        now: datetime,
        report: RunReport,
    ) -> Change:
        """What the answer says of one record (``mine``: its results in the answer)."""
        oks = {r.ok for r in mine}
        if oks == {True}:
            refs = [r.ref for r in mine if r.ref]
            report.accepted += 1
            values = {"accepted_at": now, "platform_ref": refs[0] if refs else None}
            return Change(row.id, "accepted", row.attempts, {**values, "last_error": None})
        if oks == {False} or answer.refused:
            why = "; ".join(dict.fromkeys(r.message or "refused" for r in mine)) or answer.error
            if row.attempts >= self.timing.max_attempts:
                report.rejected += 1
                return Change(row.id, "rejected", row.attempts, {"last_error": why})
            report.refused += 1
            wait = now + self.timing.backoff(row.attempts)
            return Change(
                row.id, "pending", row.attempts, {"next_attempt_at": wait, "last_error": why}
            )
        # No usable answer about this record: it may have arrived. The check decides.
        why = answer.error or (
            "accepted and refused in one answer" if oks else "no result for this record"
        )
        pause = max(self.timing.backoff(row.attempts), self.timing.visibility_delay)
        report.uncertain += 1
        return Change(
            row.id, "sending", row.attempts, {"next_attempt_at": now + pause, "last_error": why}
        )
