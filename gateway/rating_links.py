"""Rating links (二维码评价) signed by the gateway, offline, when a ticket finishes.

With ``[online] enabled`` the gateway signs a link for every journaled ``finish`` with a ticket:
``<[online] base_url>/r/<token>``, token by gateway/rating_token.py under kid ``g:<gateway code>``
and the key both sides derive from the gateway's API key (``gateway_link_key(api_key_hash(key))``),
so no call to the server is needed and the link works while the server is unreachable. The claims
come from the journal, like the ticket's record (gateway/records.py): hall, ticket day (the
hall-local day of the finish), number, window of the finish, staff (the finish's, else who was
logged in at that window), matter (the ticket's latest that day); a random nonce; expiry
``link_days`` after signing.

The queue system gets a link in the HTTP push answer, on ``hr/v1/{hall}/queue/link`` for finishes
sent over MQTT, and from ``GET /online/link`` (docs/gateway.md, "Rating links").
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

from firmware import wire
from gateway import rating_token as rt
from gateway.config import GatewayConfig
from gateway.journal import _NOT_QUARANTINED_QUEUE, Journal
from gateway.logs import event

log = logging.getLogger("hallrate.gateway.links")

LINK_PATH = "/online/link"
QR_KINDS = {".svg": "image/svg+xml", ".png": "image/png"}
QR_SCALE = {".svg": 4, ".png": 8}
MAX_QUERY_CHARS = 1024
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS queue_events_tk ON queue_events (json_extract(payload, '$.tk'))",
    "CREATE INDEX IF NOT EXISTS queue_events_w ON queue_events (json_extract(payload, '$.w'))",
)


def link_topic(hall: str) -> str:
    """hr/v1/{hall}/queue/link: the link of each finish the queue system sent over MQTT."""
    return f"{wire.TOPIC_ROOT}/{hall}/queue/link"


class LinkError(ValueError):
    """A link request the gateway cannot answer: ``status`` is the HTTP status."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


@dataclass(frozen=True)
class Finished:
    """A ticket's finish as the journal knows it, with what its link is bound to."""

    event_id: str
    ticket: str
    day: date
    window: str | None
    staff: str | None
    matter: str | None


@dataclass(frozen=True)
class RatingLink:
    event_id: str
    ticket: str
    ticket_day: date
    token: str
    url: str
    expires: int

    def as_json(self) -> dict[str, Any]:
        """GET /online/link's answer."""
        return {
            "url": self.url,
            "token": self.token,
            "expires_at": _iso(self.expires),
            "ticket": self.ticket,
            "ticket_day": self.ticket_day.isoformat(),
        }

    def qr_url(self, gateway_base: str, kind: str) -> str:
        """The gateway's QR image of this very link (kind ".svg" or ".png")."""
        return f"{gateway_base}{LINK_PATH}{kind}?token={quote(self.token, safe='')}"

    def push_answer(self, gateway_base: str) -> dict[str, Any]:
        """One item of the push answer's ``links``."""
        return {
            "id": self.event_id,
            "ticket": self.ticket,
            "ticket_day": self.ticket_day.isoformat(),
            "rating_url": self.url,
            "rating_qr_svg_url": self.qr_url(gateway_base, ".svg"),
            "rating_qr_png_url": self.qr_url(gateway_base, ".png"),
            "expires_at": _iso(self.expires),
        }

    def mqtt_message(self) -> bytes:
        """The message on hr/v1/{hall}/queue/link (compact JSON, as every message)."""
        msg = {
            "v": wire.PROTOCOL_VERSION,
            "k": "queue_link",
            "id": self.event_id,
            "tk": self.ticket,
            "day": self.ticket_day.isoformat(),
            "url": self.url,
            "exp": self.expires,
        }
        return json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode()


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def qr_image(url: str, kind: str) -> bytes:
    """The QR code of ``url`` as SVG or PNG (segno), error correction M, quiet zone 4."""
    import segno

    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind=kind.lstrip("."), scale=QR_SCALE[kind], border=4)
    return buf.getvalue()


class RatingLinks:
    """Signs links for finished tickets; safe to call from any thread (one journal connection,
    behind a lock)."""

    def __init__(
        self,
        cfg: GatewayConfig,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_urlsafe(9),
    ) -> None:
        self.cfg = cfg
        self.online = cfg.online
        self.kid = f"g:{cfg.server.gateway_id}"
        self.key = rt.gateway_link_key(rt.api_key_hash(cfg.server.api_key))
        self.tz = ZoneInfo(cfg.policy.tz)
        self.clock = clock
        self.nonce = nonce
        self._lock = threading.Lock()
        self._journal = Journal(cfg.journal_path)
        with self._lock:
            for sql in _INDEXES:
                self._journal.db.execute(sql)

    def close(self) -> None:
        self._journal.close()

    # ---- the journal ----------------------------------------------------------------------

    def _rows(self, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._journal.db.execute(sql, args).fetchall()
        return [json.loads(r[0]) for r in rows]

    def _local_day(self, t: int) -> date:
        return datetime.fromtimestamp(t, self.tz).date()

    def finished(self, ticket: str, day: date | None = None) -> Finished | None:
        """The latest finish of ``ticket`` (on hall-local ``day`` if given) in the journal."""
        events = self._rows(
            "SELECT payload FROM queue_events WHERE json_extract(payload, '$.tk') = ? "
            f"AND {_NOT_QUARANTINED_QUEUE}",
            (ticket,),
        )
        finishes = [
            m
            for m in events
            if m.get("ev") == "finish" and (day is None or self._local_day(m["t"]) == day)
        ]
        if not finishes:
            return None
        fin = max(finishes, key=lambda m: (m["t"], m["id"]))
        return self._facts(fin, events)

    def _facts(self, fin: dict[str, Any], events: list[dict[str, Any]]) -> Finished:
        """What the finish ``fin`` binds a link to, as the ticket record has it."""
        day = self._local_day(fin["t"])
        matter = None
        for m in sorted(events, key=lambda m: (m["t"], m["id"])):
            if m.get("m") is not None and self._local_day(m["t"]) == day:
                matter = m["m"]
        staff = fin.get("staff")
        if staff is None and fin.get("w") is not None:
            rows = self._rows(
                "SELECT payload FROM queue_events WHERE json_extract(payload, '$.w') = ? "
                "AND json_extract(payload, '$.ev') IN ('login', 'logout') "
                f"AND json_extract(payload, '$.t') <= ? AND {_NOT_QUARANTINED_QUEUE}",
                (fin["w"], fin["t"]),
            )
            if rows:
                last = max(rows, key=lambda m: (m["t"], m["id"]))
                staff = last.get("staff") if last["ev"] == "login" else None
        return Finished(fin["id"], fin["tk"], day, fin.get("w"), staff, matter)

    # ---- signing --------------------------------------------------------------------------

    def sign(self, f: Finished) -> RatingLink:
        """A fresh link for ``f``. Raises LinkError(422) for a ticket a token cannot carry."""
        issued = int(self.clock())
        expires = issued + self.online.link_days * 86400
        claims = rt.LinkClaims(
            self.kid,
            self.cfg.hall,
            f.day,
            f.ticket,
            f.window,
            f.staff,
            f.matter,
            issued,
            expires,
            self.nonce(),
        )
        try:
            token = rt.sign(claims, self.key)
        except ValueError as e:
            raise LinkError(422, f"ticket {f.ticket!r} cannot be put in a rating link: {e}") from e
        url = f"{self.online.base_url}/r/{token}"
        return RatingLink(f.event_id, f.ticket, f.day, token, url, expires)

    def for_finish(self, msg: dict[str, Any]) -> RatingLink | None:
        """The link of a journaled queue event, if it is a finish with a ticket (else None; a
        ticket a token cannot carry is logged and gets none)."""
        if msg.get("ev") != "finish" or not msg.get("tk"):
            return None
        try:
            events = self._rows(
                "SELECT payload FROM queue_events WHERE json_extract(payload, '$.tk') = ? "
                f"AND {_NOT_QUARANTINED_QUEUE}",
                (msg["tk"],),
            )
            return self.sign(self._facts(msg, events))
        except LinkError as e:
            event(log, "rating_link_refused", logging.WARNING, id=msg["id"], reason=str(e))
            return None

    def for_ticket(self, ticket: str, day: date | None) -> RatingLink:
        f = self.finished(ticket, day)
        if f is None:
            on = f" on {day.isoformat()}" if day is not None else ""
            raise LinkError(404, f"no finish of ticket {ticket}{on} in the gateway's journal")
        return self.sign(f)

    def verify_own(self, token: str) -> RatingLink:
        """A token this gateway signed, still valid (for its QR image)."""
        try:
            key = self.key if rt.peek(token).kid == self.kid else None
            claims = rt.verify(token, key, self.clock())
        except rt.TokenError as e:
            raise LinkError(400, f"token: {e}") from None
        url = f"{self.online.base_url}/r/{token}"
        return RatingLink("", claims.ticket, claims.ticket_day, token, url, claims.expires)

    # ---- GET /online/link[.svg|.png] ------------------------------------------------------

    def answer(self, path: str, query: str) -> tuple[int, bytes, str]:
        """(status, body, content type) of GET /online/link, /online/link.svg, .png."""
        try:
            kind = path.removeprefix(LINK_PATH)
            link = self._link_for_query(query, qr=bool(kind))
            if kind:
                return 200, qr_image(link.url, kind), QR_KINDS[kind]
            body = json.dumps(link.as_json(), ensure_ascii=False).encode()
            return 200, body, "application/json"
        except LinkError as e:
            body = json.dumps({"detail": str(e)}, ensure_ascii=False).encode()
            return e.status, body, "application/json"

    def _link_for_query(self, query: str, qr: bool) -> RatingLink:
        if len(query) > MAX_QUERY_CHARS:
            raise LinkError(400, f"query longer than {MAX_QUERY_CHARS} characters")
        params = parse_qs(query, keep_blank_values=True)
        allowed = {"ticket", "day", "token"} if qr else {"ticket", "day"}
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise LinkError(400, f"unknown parameter {unknown[0]!r}")
        if any(len(v) > 1 for v in params.values()):
            raise LinkError(400, "each parameter at most once")
        one = {k: v[0] for k, v in params.items()}
        if "token" in one:
            if set(one) != {"token"}:
                raise LinkError(400, "give either token or ticket, not both")
            return self.verify_own(one["token"])
        ticket = one.get("ticket", "")
        if not ticket:
            raise LinkError(400, "ticket is required")
        day = None
        if "day" in one:
            try:
                day = date.fromisoformat(one["day"])
                if len(one["day"]) != 10:
                    raise ValueError
            except ValueError:
                raise LinkError(400, "day must be YYYY-MM-DD") from None
        return self.for_ticket(ticket, day)
