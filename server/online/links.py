"""Rating links: issue one for a finished ticket, read one back (docs/online-rating.md "The
link", "The token").

A server-issued link is deterministic: the same ticket (and policy) always gives the same
token, so issuing is idempotent and nothing is stored. Its lifetime covers the rating period,
the late limit and the 追评 period after it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.rating_token import LinkClaims, TokenError, peek, sign, verify
from server.calendar import WorkingDays
from server.codes import MATTER, STAFF, WINDOW, CodeKind
from server.config import Settings
from server.ingest.ticket_fields import ticket_record_fields
from server.models import Hall, Ticket
from server.online.keys import SERVER_KID, link_key, server_link_key
from server.online.period import RatingPeriod, rating_period
from server.online.rejections import Refusal
from server.policy import Policy

LINK_PREFIX = "/r/"


@dataclass(frozen=True, slots=True)
class IssuedLink:
    token: str
    url: str
    expires_at: datetime  # UTC
    claims: LinkClaims


def link_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url}{LINK_PREFIX}{token}"


def link_expiry(period: RatingPeriod, policy: Policy) -> datetime:
    """The end (UTC) of the hall-local day ``followup_days`` after the late limit's last day:
    a 追评 given on the last day of the period still has its link."""
    last = period.late_last_day + timedelta(days=policy.online.followup_days)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=ZoneInfo(policy.timezone))
    return end.astimezone(UTC)


def _code(value: str | None, kind: CodeKind) -> str | None:
    return value if value is not None and kind.problem(value) is None else None


def issue_link(
    session: Session, settings: Settings, policy: Policy, days: WorkingDays, ticket: Ticket
) -> IssuedLink:
    """The server-issued link (kid ``"s"``) of a finished ``ticket``. Raises ValueError when
    the ticket number cannot be put in a link (only A-Z a-z 0-9 _ - can)."""
    hall = session.scalar(select(Hall.code).where(Hall.id == ticket.hall_id))
    assert hall is not None
    fields = ticket_record_fields(session, ticket)
    key = server_link_key(settings)
    expires = int(
        link_expiry(rating_period(ticket.local_day, policy.online, days), policy).timestamp()
    )
    finished = ticket.finished_at or datetime.now(UTC)
    issued = min(int(finished.timestamp()), expires - 1)
    ident = f"{hall}:{ticket.local_day.isoformat()}:{ticket.number}".encode()
    nonce = base64.urlsafe_b64encode(hmac.new(key, ident, hashlib.sha256).digest()[:6]).decode()
    claims = LinkClaims(
        SERVER_KID,
        hall,
        ticket.local_day,
        ticket.number,
        _code(fields["window"], WINDOW),
        _code(fields["staff"], STAFF),
        _code(fields["matter"], MATTER),
        issued,
        expires,
        nonce,
    )
    token = sign(claims, key)
    return IssuedLink(
        token, link_url(settings, token), datetime.fromtimestamp(expires, UTC), claims
    )


def read_link(session: Session, settings: Settings, token: str, now: datetime) -> LinkClaims:
    """The claims of a genuine, unexpired link whose issuer belongs to its hall. Raises
    Refusal: malformed, unknown_key, bad_signature, expired, wrong_hall."""
    try:
        claims = peek(token)
    except TokenError as exc:
        raise Refusal(exc.reason, str(exc)) from None

    def refuse(reason: str, detail: str) -> Refusal:
        return Refusal(
            reason, detail, hall=claims.hall, ticket=claims.ticket, ticket_day=claims.ticket_day
        )

    found = link_key(session, settings, claims.kid)
    try:
        verify(token, found.key if found else None, now.timestamp())
    except TokenError as exc:
        raise refuse(exc.reason, f"{exc} (kid {claims.kid})") from None
    if found is not None and found.hall is not None and found.hall != claims.hall:
        raise refuse(
            "wrong_hall",
            f"gateway {claims.gateway} belongs to hall {found.hall}, not {claims.hall}",
        )
    return claims
