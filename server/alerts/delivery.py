"""Delivering pending alerts (docs/cases.md "Alerts", docs/adr/0021-alert-deliverer.md).

A pass claims the webhook and SMS alerts that are due (``state`` pending, ``not_before`` <= now)
and sends each outside any transaction. A claim is a committed change: ``attempts`` + 1 and
``not_before`` moved a lease ahead, taken with ``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL and a conditional ``UPDATE`` on SQLite, so two deliverers (two server processes, or a
server and `hallrate alerts deliver`) never send one alert at the same time. The outcome is its
own transaction: ``sent``; or, on an error, pending again after a backoff, or ``failed`` once
``max_attempts`` are used. A deliverer that dies mid-send leaves the alert to be tried again when
the lease ends (webhook receivers dedupe on X-Hallrate-Alert-Id)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from server.db import begin_write
from server.models.cases import Alert, AlertTarget
from server.policy import Policy
from server.sms.provider import OutgoingSms, SmsProvider

log = logging.getLogger("hallrate.alerts")

# How long a claimed alert is left to its deliverer before another may try it again: longer
# than any send (the webhook timeout is at most 60 s, an SMS call's is 10 s by default).
CLAIM_LEASE = timedelta(minutes=5)
BATCH = 50
USER_AGENT = "hallrate-alerts/1"


@dataclass
class DeliveryReport:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"sent {self.sent}; to retry {self.retry}; failed {self.failed}"


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    event: str
    attempts: int  # this attempt's number, 1-based
    created_at: datetime
    title: str
    body: str
    payload: dict[str, Any]
    address: str | None  # None: the target is gone or inactive
    secret: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


def webhook_body(c: Claimed) -> bytes:
    """The JSON a webhook receives: the alert's payload with its id and creation time."""
    doc = {"id": c.id, "created_at": c.created_at.isoformat(), **c.payload}
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    """The X-Hallrate-Signature header: "sha256=" + hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sms_params(c: Claimed) -> dict[str, str]:
    """The alert SMS template's parameters (docs/cases.md "Alerts": title, case, due)."""
    p = c.payload
    return {
        "title": c.title,
        "case": str(p.get("case_number") or ""),
        "due": str(p.get("due") or ""),
    }


class Deliverer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        policy: Policy,
        *,
        sms: Callable[[], SmsProvider] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        http: httpx.Client | None = None,
        batch: int = BATCH,
    ) -> None:
        self.batch = batch
        self.sessions = sessions
        self.policy = policy
        self._sms_factory = sms
        self._sms: SmsProvider | None = None
        self.clock = clock
        self._http = http or httpx.Client(follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def backoff(self, attempts: int) -> timedelta:
        conf = self.policy.alerts
        seconds = min(conf.retry_seconds * 2 ** max(0, attempts - 1), conf.retry_max_seconds)
        return timedelta(seconds=seconds)

    # ---- claim ----------------------------------------------------------------------------

    def claim(self, limit: int | None = None) -> list[Claimed]:
        """Claim up to ``limit`` (default: the batch size) due alerts, committed."""
        limit = limit or self.batch
        now = self.clock()
        due = (
            select(Alert)
            .where(
                Alert.state == "pending",
                Alert.not_before <= now,
                Alert.channel.in_(("webhook", "sms")),
            )
            .order_by(Alert.not_before, Alert.id)
            .limit(limit)
        )
        with self.sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                rows = list(session.scalars(due.with_for_update(skip_locked=True)))
                for row in rows:
                    row.attempts += 1
                    row.not_before = now + CLAIM_LEASE
                session.flush()
            else:
                seen = [(a.id, a.attempts) for a in session.scalars(due)]
                begin_write(session)
                claimed = []
                for alert_id, attempts in seen:
                    result = session.execute(
                        update(Alert)
                        .where(
                            Alert.id == alert_id,
                            Alert.state == "pending",
                            Alert.attempts == attempts,
                            Alert.not_before <= now,
                        )
                        .values(attempts=attempts + 1, not_before=now + CLAIM_LEASE)
                        .execution_options(synchronize_session=False)
                    )
                    if result.rowcount == 1:  # type: ignore[attr-defined]
                        claimed.append(alert_id)
                fresh = select(Alert).where(Alert.id.in_(claimed))
                rows = (
                    list(session.scalars(fresh.execution_options(populate_existing=True)))
                    if claimed
                    else []
                )
            out = [self._claimed(session, row) for row in rows]
            session.commit()
        return sorted(out, key=lambda c: c.id)

    def _claimed(self, session: Session, row: Alert) -> Claimed:
        target = session.get(AlertTarget, row.target_id) if row.target_id else None
        live = target is not None and target.active
        return Claimed(
            id=row.id,
            channel=row.channel,
            event=row.event,
            attempts=row.attempts,
            created_at=row.created_at,
            title=row.title,
            body=row.body,
            payload=dict(row.payload or {}),
            address=target.address if live and target else None,
            secret=target.secret if live and target else "",
        )

    # ---- send -----------------------------------------------------------------------------

    def run_once(self) -> DeliveryReport:
        """Claim and send until nothing is due."""
        report = DeliveryReport()
        while batch := self.claim():
            for c in batch:
                self._outcome(c, self.send(c), report)
            if len(batch) < self.batch:
                break
        return report

    def send(self, c: Claimed) -> tuple[str | None, bool]:
        """(error or None when delivered, whether another attempt may help)."""
        if c.address is None:
            return "the alert target was removed or deactivated", False
        try:
            if c.channel == "webhook":
                return self._webhook(c)
            return self._text(c)
        except Exception as exc:  # a bug or an unexpected library error: retry, recorded
            log.exception("alert %s: delivery raised", c.id)
            return f"{type(exc).__name__}: {exc}", True

    def _webhook(self, c: Claimed) -> tuple[str | None, bool]:
        assert c.address is not None
        body = webhook_body(c)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "X-Hallrate-Alert-Id": str(c.id),
            "X-Hallrate-Event": c.event,
            "X-Hallrate-Attempt": str(c.attempts),
        }
        if c.secret:
            headers["X-Hallrate-Signature"] = signature(c.secret, body)
        try:
            r = self._http.post(
                c.address,
                content=body,
                headers=headers,
                timeout=self.policy.alerts.webhook_timeout_seconds,
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}".rstrip(": "), True
        if 200 <= r.status_code < 300:
            return None, False
        return f"HTTP {r.status_code}: {r.text[:200]}", True

    def _text(self, c: Claimed) -> tuple[str | None, bool]:
        assert c.address is not None
        if self._sms is None:
            if self._sms_factory is None:
                return "no SMS provider is configured for alerts", False
            try:
                self._sms = self._sms_factory()
            except ValueError as exc:  # a provider without its credentials or template
                return str(exc), False
        sms = OutgoingSms(out_id=f"alert-{c.id}", phone=c.address, template_params=sms_params(c))
        result = self._sms.send([sms])[0]
        if result.accepted:
            return None, False
        return result.error or "refused by the SMS platform", result.retryable

    def _outcome(
        self, c: Claimed, outcome: tuple[str | None, bool], report: DeliveryReport
    ) -> None:
        error, retryable = outcome
        now = self.clock()
        values: dict[str, Any]
        if error is None:
            values = {"state": "sent", "sent_at": now, "last_error": ""}
            report.sent += 1
        elif retryable and c.attempts < self.policy.alerts.max_attempts:
            values = {"not_before": now + self.backoff(c.attempts), "last_error": error[:512]}
            report.retry += 1
        else:
            values = {"state": "failed", "last_error": error[:512]}
            report.failed += 1
        if error is not None:
            report.errors.append(f"alert {c.id} ({c.channel}): {error}")
            log.warning("alert %s (%s) attempt %s: %s", c.id, c.channel, c.attempts, error)
        with self.sessions() as session:
            begin_write(session)
            session.execute(
                update(Alert)
                .where(Alert.id == c.id, Alert.state == "pending", Alert.attempts == c.attempts)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            session.commit()
