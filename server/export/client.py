"""HTTP to a provincial platform in a profile's dialect (docs/export.md "The platform's API"):
POST a batch to the target's ``url``; GET the platform's records from its ``query_url``, by
record id (the check after a request without an answer) or by day (reconciliation).

Every request carries the profile's auth headers (bearer token, or an HMAC-SHA256 signature of
the timestamp and body); the credential comes from the target's ``secret_env``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from server.export.codec import DecodeError, Result, auth_headers, batch_body, read_results
from server.export.targets import Target

USER_AGENT = "hallrate-export/1"
QUERY_IDS = 100  # record ids per query request
PAGE_SIZE = 1000  # records per page of a query by day


class PlatformError(Exception):
    """A query the platform did not answer usefully; the message says why."""


@dataclass(frozen=True)
class PushAnswer:
    """The outcome of one batch request.

    ``results``: the per-record results of a readable answer (None otherwise).
    ``refused``: the request as a whole was refused (HTTP 4xx but 408/429): nothing stored.
    ``error``: what went wrong when there is no readable answer (timeout, dropped connection,
    5xx, an answer that is no result list) — the records may or may not have arrived.
    """

    results: list[Result] | None
    refused: bool = False
    error: str = ""


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class PlatformClient:
    def __init__(
        self,
        target: Target,
        secret: str,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.target = target
        self.profile = target.profile
        self.secret = secret
        self.clock = clock
        self._own = http is None
        self.http = http or httpx.Client(follow_redirects=False)

    def close(self) -> None:
        if self._own:
            self.http.close()

    def _headers(self, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            **auth_headers(self.profile, self.secret, body, int(self.clock())),
        }

    def push(self, items: Sequence[Mapping[str, Any]]) -> PushAnswer:
        body = json.dumps(
            batch_body(items, self.profile), ensure_ascii=False, separators=(",", ":")
        ).encode()
        try:
            r = self.http.post(
                self.target.url,
                content=body,
                headers=self._headers(body),
                timeout=self.target.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            return PushAnswer(None, error=_short(exc))
        if 400 <= r.status_code < 500 and r.status_code not in (408, 429):
            return PushAnswer(None, refused=True, error=f"HTTP {r.status_code}: {r.text[:200]}")
        if not 200 <= r.status_code < 300:
            return PushAnswer(None, error=f"HTTP {r.status_code}: {r.text[:200]}")
        try:
            return PushAnswer(read_results(r.json(), self.profile))
        except (ValueError, DecodeError) as exc:
            return PushAnswer(None, error=f"unreadable answer: {exc}")

    def _query(self, params: dict[str, str]) -> list[dict[str, Any]]:
        if not self.target.query_url:
            raise PlatformError(f"target {self.target.name} has no query_url")
        try:
            r = self.http.get(
                self.target.query_url,
                params=params,
                headers=self._headers(b""),
                timeout=self.target.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            raise PlatformError(f"query failed: {_short(exc)}") from None
        if r.status_code != 200:
            raise PlatformError(f"query failed: HTTP {r.status_code}: {r.text[:200]}")
        try:
            items = r.json().get(self.profile.envelope)
        except (ValueError, AttributeError):
            items = None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise PlatformError(f"query answer has no {self.profile.envelope} list")
        return items

    def records(self, record_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """record id -> the platform's item, for the ids it holds (a withdrawn one is not)."""
        key = self.profile.fields["record_id"]
        out: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(record_ids))
        for i in range(0, len(ids), QUERY_IDS):
            for item in self._query({"record_ids": ",".join(ids[i : i + QUERY_IDS])}):
                if isinstance(item.get(key), str):
                    out[item[key]] = item
        return out

    def records_between(self, first: date, last: date) -> list[dict[str, Any]]:
        """Every item the platform holds rated on the days first..last (inclusive)."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            got = self._query(
                {
                    "from": first.isoformat(),
                    "to": last.isoformat(),
                    "page": str(page),
                    "page_size": str(PAGE_SIZE),
                }
            )
            out += got
            if len(got) < PAGE_SIZE:
                return out
            page += 1
