"""Alert targets: a hall's duty manager's webhook URL or mobile number (docs/cases.md "Alerts").
Shared by ``/api/v1/alert-targets`` and `hallrate alerts target`; every refusal is a
``TargetError`` with the message shown to the user."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models.cases import AlertTarget
from server.models.org import Hall

TARGET_CHANNELS = ("webhook", "sms")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
MAX_URL = 512
MAX_SECRET = 128
MAX_NAME = 64


class TargetError(ValueError):
    """Bad input for a target (API 422, or 409 when ``conflict``; CLI exit 2)."""

    def __init__(self, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict


def check_address(channel: str, address: str) -> str:
    """The address as stored, or TargetError: an http(s) URL with a host for webhook, an
    11-digit mainland mobile (1[3-9] and 9 digits) for sms."""
    if channel == "webhook":
        if len(address) > MAX_URL:
            raise TargetError(f"webhook URL is longer than {MAX_URL} characters")
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname or _CONTROL.search(address):
            raise TargetError(
                f"webhook URL {address[:80]!r} is not an http:// or https:// URL with a host "
                "and no spaces"
            )
        if parts.username or parts.password:
            raise TargetError("webhook URL may not hold a user name or password; use a secret")
        return address
    if channel == "sms":
        if not MOBILE.match(address):
            raise TargetError(
                f"mobile number {address[:20]!r} is not 11 digits starting 13-19 (e.g. 13800001234)"
            )
        return address
    raise TargetError(f"channel must be webhook or sms, not {channel!r}")


def check_text(what: str, value: str, longest: int) -> str:
    if len(value) > longest:
        raise TargetError(f"{what} is longer than {longest} characters")
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise TargetError(f"{what} may not hold control characters")
    return value


def secret_hint(secret: str) -> str | None:
    """What is shown of a secret: None when unset, its last 4 characters when it has 16 or more,
    otherwise "…" (never the secret itself)."""
    if not secret:
        return None
    return "…" + secret[-4:] if len(secret) >= 16 else "…"


def target_out(target: AlertTarget, hall_code: str) -> dict[str, Any]:
    return {
        "id": target.id,
        "hall": hall_code,
        "channel": target.channel,
        "address": target.address,
        "name": target.name,
        "secret_set": bool(target.secret),
        "secret_hint": secret_hint(target.secret),
        "active": target.active,
        "created_at": target.created_at,
    }


def _taken(session: Session, hall_id: int, channel: str, address: str, but: int | None) -> bool:
    q = select(AlertTarget.id).where(
        AlertTarget.hall_id == hall_id,
        AlertTarget.channel == channel,
        AlertTarget.address == address,
    )
    found = session.scalar(q)
    return found is not None and found != but


def add_target(
    session: Session,
    hall: Hall,
    channel: str,
    address: str,
    *,
    name: str = "",
    secret: str = "",
    active: bool = True,
) -> AlertTarget:
    """A new target (flushed, not committed)."""
    address = check_address(channel, address.strip())
    name = check_text("name", name.strip(), MAX_NAME)
    secret = check_text("secret", secret, MAX_SECRET)
    if secret and channel != "webhook":
        raise TargetError("only a webhook target has a secret")
    if _taken(session, hall.id, channel, address, None):
        raise TargetError(
            f"hall {hall.code} already has the {channel} target {address}", conflict=True
        )
    target = AlertTarget(
        hall_id=hall.id, channel=channel, address=address, name=name, secret=secret, active=active
    )
    session.add(target)
    session.flush()
    return target


def change_target(
    session: Session,
    target: AlertTarget,
    *,
    address: str | None = None,
    name: str | None = None,
    secret: str | None = None,
    active: bool | None = None,
) -> AlertTarget:
    """Change the given fields (None: unchanged; secret "" removes it)."""
    if address is not None:
        address = check_address(target.channel, address.strip())
        if _taken(session, target.hall_id, target.channel, address, target.id):
            raise TargetError(
                f"the hall already has the {target.channel} target {address}", conflict=True
            )
        target.address = address
    if name is not None:
        target.name = check_text("name", name.strip(), MAX_NAME)
    if secret is not None:
        secret = check_text("secret", secret, MAX_SECRET)
        if secret and target.channel != "webhook":
            raise TargetError("only a webhook target has a secret")
        target.secret = secret
    if active is not None:
        target.active = active
    session.flush()
    return target
