"""Store and forward: journaled, attributed records to the server's ingest API, in batches.

A record is marked forwarded only after a 200 whose body does not reject it; a rejected record
is marked rejected with the server's reason and not retried. One record cannot hold up the others:
a record that cannot be encoded as JSON is rejected here, and a batch the server refuses as a whole
(400, 413, 422) is split until the refused record is alone, which is then rejected with the answer.
Anything else (server down, 5xx, timeouts, 401) is retried with exponential backoff and jitter,
forever: the journal holds it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from pathlib import Path
from typing import Any

import httpx

from gateway.config import GatewayConfig
from gateway.journal import Journal, PendingRecord
from gateway.logs import event
from gateway.metrics import GatewayMetrics

log = logging.getLogger("hallrate.gateway.forward")

ENDPOINTS = {"records": "/api/v1/ingest/evaluations", "tickets": "/api/v1/ingest/tickets"}
# Answers that refuse a batch for its content: split it to find the record that causes them.
REFUSED = (400, 413, 422)


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: uniform(cap/2, cap), cap = min(max, initial*2**n)."""
    cap = min(maximum, initial * (2 ** min(attempt, 30)))
    return rng.uniform(cap / 2, cap)


class Forwarder:
    def __init__(
        self,
        cfg: GatewayConfig,
        metrics: GatewayMetrics,
        journal_path: Path | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.journal = Journal(journal_path or cfg.journal_path)
        self.client = client or httpx.Client(base_url=cfg.server.url, timeout=cfg.server.timeout_s)
        self.wake = threading.Event()
        self.failures = 0
        self.rng = random.Random()
        self.last_error: str | None = None

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                sent = self.forward_once("tickets") + self.forward_once("records")
                self.failures = 0
                self.last_error = None
                if sent:
                    continue
                delay = self.cfg.forward_interval_s
            except ForwardError as e:
                self.failures += 1
                self.last_error = str(e)
                self.metrics.forward_errors.inc()
                delay = backoff_delay(
                    self.failures - 1, self.cfg.backoff_initial_s, self.cfg.backoff_max_s, self.rng
                )
                event(
                    log,
                    "forward_failed",
                    logging.WARNING,
                    error=str(e),
                    attempt=self.failures,
                    retry_in_s=round(delay, 2),
                )
            self.wake.wait(delay)
            self.wake.clear()
        self.client.close()
        self.journal.close()

    def forward_once(self, table: str) -> int:
        """Send one batch of pending rows of `table`; return how many were settled."""
        batch = self.journal.pending(table, self.cfg.batch_size)
        if not batch:
            return 0
        encoded: list[tuple[PendingRecord, bytes]] = []
        rejected: dict[str, str] = {}
        for r in batch:
            try:
                encoded.append((r, _encode(r.body)))
            except (ValueError, TypeError) as e:
                rejected[r.key] = f"not sendable as JSON: {e}"[:300]
        self._send(table, encoded, rejected)
        self.journal.mark_forwarded(table, batch, rejected)
        self.metrics.forwarded.labels(table).inc(len(batch) - len(rejected))
        if rejected:
            self.metrics.rejected.labels(table).inc(len(rejected))
            event(
                log,
                "records_rejected",
                logging.WARNING,
                table=table,
                rejected=[{"key": k, "reason": r} for k, r in rejected.items()],
            )
        return len(batch)

    def _send(
        self, table: str, batch: list[tuple[PendingRecord, bytes]], rejected: dict[str, str]
    ) -> None:
        """POST one batch; add the server's rejections to `rejected`. A batch refused as a whole
        is sent again in halves; a record refused alone is rejected with the answer."""
        if not batch:
            return
        gateway = json.dumps(self.cfg.server.gateway_id, ensure_ascii=False).encode()
        payload = b'{"gateway":%s,"records":[%s]}' % (gateway, b",".join(b for _, b in batch))
        try:
            resp = self.client.post(
                ENDPOINTS[table],
                content=payload,
                headers={
                    "Authorization": f"Bearer {self.cfg.server.api_key}",
                    "Content-Type": "application/json",
                },
            )
        except httpx.HTTPError as e:
            raise ForwardError(f"{type(e).__name__}: {e}") from None
        if resp.status_code in REFUSED:
            if len(batch) == 1:
                rejected[batch[0][0].key] = f"HTTP {resp.status_code}: {resp.text[:300]}"
                return
            half = len(batch) // 2
            self._send(table, batch[:half], rejected)
            self._send(table, batch[half:], rejected)
            return
        if resp.status_code != 200:
            raise ForwardError(f"HTTP {resp.status_code}: {resp.text[:300]}")
        try:
            answer = resp.json()
            rejected.update(self._rejected(answer, [r for r, _ in batch]))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ForwardError(f"unexpected answer: {e}: {resp.text[:300]}") from None

    @staticmethod
    def _rejected(answer: dict[str, Any], batch: list[PendingRecord]) -> dict[str, str]:
        out: dict[str, str] = {}
        for rej in answer.get("rejected") or []:
            idx = rej.get("index")
            key = rej.get("key")
            if key is None and isinstance(idx, int) and 0 <= idx < len(batch):
                key = batch[idx].key
            if key is not None:
                out[str(key)] = str(rej.get("reason", "rejected"))
        return out


class ForwardError(Exception):
    pass


def _encode(body: dict[str, Any]) -> bytes:
    """Strict JSON (no NaN, no lone surrogates), as the server reads it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
