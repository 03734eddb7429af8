"""The SMS sender: reconcile, select, enqueue, send (docs/sms.md, "Outbox").

One pass (`Sender.run_once`) is safe to kill at any instant and to run again, also next to
another pass: a text is claimed (queued → sending, committed) before its send call, a row left
in ``sending`` is only sent again after the platform's delivery query shows it never arrived,
and the outbox's unique ticket and (phone, day) stop a second row. Provider I/O goes through
the `SmsProvider` protocol (server/sms/provider.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.logs import event
from server.models import Hall, SmsMessage, Ticket, Window
from server.personal import PhoneCipher, phone_digits
from server.policy import Policy
from server.sms import outbox
from server.sms.outbox import Timing
from server.sms.policy import segments
from server.sms.provider import Delivery, OutgoingSms, SendResult, SmsProvider
from server.sms.selection import select_due

log = logging.getLogger("hallrate.sms")


@dataclass
class RunReport:
    reconciled: dict[str, int] = field(default_factory=dict)  # outcome -> rows
    expired: int = 0
    enqueued: int = 0
    accepted: int = 0
    refused: int = 0
    uncertain: int = 0  # left in sending: reconciled before any retry
    skipped: dict[str, int] = field(default_factory=dict)
    budget_reached: list[str] = field(default_factory=list)

    def note(self, outcome: str) -> None:
        self.reconciled[outcome] = self.reconciled.get(outcome, 0) + 1


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Sender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        provider: SmsProvider,
        policy: Policy,
        cipher: PhoneCipher,
        timing: Timing | None = None,
        clock: Callable[[], datetime] = _utcnow,
        min_call_interval: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sessions = sessions
        self.provider = provider
        self.policy = policy
        self.cipher = cipher
        self.timing = timing or Timing()
        self.clock = clock
        self.min_call_interval = min_call_interval
        self.sleep = sleep
        self._last_call = 0.0

    def today(self, now: datetime) -> date:
        return now.astimezone(self.policy.tzinfo).date()

    # ---- reconcile ------------------------------------------------------------------------

    def _phone(self, row: SmsMessage) -> str:
        return phone_digits(self.cipher.decrypt(row.phone_enc or ""))

    def _found(self, row: SmsMessage, deliveries: list[Delivery]) -> Delivery | None:
        """Our text among the platform's sends to that number that day: by out_id; a platform
        that returns no out_id at all: any text (we send one per number per day)."""
        mine = [d for d in deliveries if d.out_id == row.out_id]
        if not mine and deliveries and all(d.out_id is None for d in deliveries):
            mine = deliveries
        return mine[-1] if mine else None

    def _apply(self, session: Session, row: SmsMessage, d: Delivery, from_state: str) -> str:
        state = {"delivered": "delivered", "undeliverable": "undeliverable"}.get(d.state, "sent")
        values: dict[str, object] = {"provider_id": d.provider_id or row.provider_id}
        if state == "delivered":
            values["delivered_at"] = d.at
        if state != from_state:
            outbox.set_state(session, row.id, state, from_states=(from_state,), **values)
        return state

    def reconcile_sending(self, report: RunReport) -> None:
        """Rows in ``sending`` whose wait is over: a crash mid-send, a timeout, a throttle.
        Found at the platform → sent/delivered/undeliverable; not found → retry (or failed)."""
        now = self.clock()
        today = self.today(now)
        with self.sessions() as session:
            for row in outbox.in_state(session, "sending", due_by=now):
                sent_on = (row.sent_at or now).astimezone(self.policy.tzinfo).date()
                try:
                    found = self._found(row, self.provider.deliveries(self._phone(row), sent_on))
                except Exception as exc:  # the platform is down: ask again later
                    wait = now + self.timing.backoff(row.attempts)
                    outbox.set_state(
                        session, row.id, "sending", next_attempt_at=wait, last_error=str(exc)
                    )
                    report.note("query_failed")
                    continue
                if found is not None:
                    report.note(self._apply(session, row, found, "sending"))
                elif row.local_day < today:
                    outbox.set_state(
                        session, row.id, "failed", last_error="expired: not sent on its day"
                    )
                    report.note("failed")
                elif row.attempts >= self.timing.max_attempts:
                    outbox.set_state(
                        session,
                        row.id,
                        "failed",
                        last_error=f"not at the platform after {row.attempts} attempts",
                    )
                    report.note("failed")
                else:
                    outbox.set_state(session, row.id, "queued", next_attempt_at=now)
                    report.note("retry")

    def refresh_sent(self, since: date) -> dict[str, int]:
        """Delivery reports for rows in ``sent`` of ``since`` on (`hallrate sms reconcile`)."""
        out: dict[str, int] = {}
        with self.sessions() as session:
            for row in outbox.in_state(session, "sent", since=since):
                sent_on = (row.sent_at or self.clock()).astimezone(self.policy.tzinfo).date()
                try:
                    found = self._found(row, self.provider.deliveries(self._phone(row), sent_on))
                except Exception:
                    out["query_failed"] = out.get("query_failed", 0) + 1
                    continue
                state = self._apply(session, row, found, "sent") if found else "sent"
                out[state] = out.get(state, 0) + 1
        return out

    # ---- send -----------------------------------------------------------------------------

    def expire(self, report: RunReport) -> None:
        """Queued rows of a past day are not sent (the same-day rule): failed, expired."""
        today = self.today(self.clock())
        with self.sessions() as session:
            for row in outbox.in_state(session, "queued"):
                if row.local_day < today:
                    outbox.set_state(
                        session,
                        row.id,
                        "failed",
                        from_states=("queued",),
                        last_error="expired: not sent on its day",
                    )
                    report.expired += 1

    def enqueue_due(self, report: RunReport) -> None:
        now = self.clock()
        with self.sessions() as session:
            sel = select_due(
                session,
                self.policy.sms,
                now,
                self.policy.tzinfo,
                self.cipher.decrypt,
                one_rating=self.policy.one_rating,
            )
            session.rollback()
            n = segments(self.policy.sms.longest_chars)
            report.enqueued += outbox.enqueue(session, sel.due, n, now)
        for k, v in sel.skipped.items():
            report.skipped[k] = report.skipped.get(k, 0) + v
        for hall in sel.budget_reached:
            if hall not in report.budget_reached:
                report.budget_reached.append(hall)
            event(
                log,
                "sms_budget_reached",
                logging.WARNING,
                hall=hall,
                day=self.today(now).isoformat(),
                budget=self.policy.sms.daily_budget,
            )

    def _texts(self, session: Session, rows: list[SmsMessage]) -> list[OutgoingSms]:
        ids = [r.ticket_id for r in rows]
        info = {
            tid: (hall_name or hall_code, wcode or tcode, number)
            for tid, hall_name, hall_code, wcode, tcode, number in session.execute(
                select(
                    Ticket.id, Hall.name, Hall.code, Window.code, Ticket.window_code, Ticket.number
                )
                .join(Hall, Hall.id == Ticket.hall_id)
                .outerjoin(Window, Window.id == Ticket.window_id)
                .where(Ticket.id.in_(ids))
            ).all()
        }
        session.rollback()
        out = []
        for r in rows:
            hall, window, number = info[r.ticket_id]
            params = self.policy.sms.params(hall, window, number)
            out.append(OutgoingSms(out_id=r.out_id, phone=self._phone(r), template_params=params))
        return out

    def _pace(self) -> None:
        if self.min_call_interval > 0:
            wait = self._last_call + self.min_call_interval - time.monotonic()
            if wait > 0:
                self.sleep(wait)
        self._last_call = time.monotonic()

    def send_claimed(self, report: RunReport) -> None:
        batch_size = max(1, int(self.provider.max_batch))
        with self.sessions() as session:
            while True:
                now = self.clock()
                rows = outbox.claim(session, self.provider.name, batch_size, now, self.timing)
                if not rows:
                    return
                texts = self._texts(session, rows)
                self._pace()
                try:
                    results = {r.out_id: r for r in self.provider.send(texts)}
                except Exception as exc:
                    results = {}
                    error = f"send call failed: {exc}"
                else:
                    error = "no result for this text"
                for row in rows:
                    self._record(session, row, results.get(row.out_id), error, now, report)

    def _record(
        self,
        session: Session,
        row: SmsMessage,
        res: SendResult | None,
        error: str,
        now: datetime,
        report: RunReport,
    ) -> None:
        if res is not None and res.accepted:
            outbox.set_state(session, row.id, "sent", provider_id=res.provider_id, last_error=None)
            report.accepted += 1
        elif res is not None and not res.retryable:
            outbox.set_state(session, row.id, "failed", last_error=res.error or "refused")
            report.refused += 1
        else:  # unknown outcome: stays sending, reconciled through the delivery query first
            wait = max(self.timing.backoff(row.attempts), self.timing.visibility_delay)
            why = (res.error if res is not None else None) or error
            outbox.set_state(session, row.id, "sending", next_attempt_at=now + wait, last_error=why)
            report.uncertain += 1

    def run_once(self) -> RunReport:
        report = RunReport()
        self.reconcile_sending(report)
        self.expire(report)
        self.enqueue_due(report)
        self.send_claimed(report)
        return report


def day_ago(d: date, days: int = 1) -> date:
    return d - timedelta(days=days)
