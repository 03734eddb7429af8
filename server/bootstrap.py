"""Apply HALLRATE_BOOTSTRAP_ADMIN / _GATEWAY / _WINDOWS: first accounts and windows without a UI."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.config import Settings
from server.models import Gateway, Hall, User, Window
from server.security import hash_api_key, hash_password


def ensure_admin(session: Session, username: str, password: str) -> bool:
    """Create a city admin if the username is free. True if created."""
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        return False
    session.add(User(username=username, password_hash=hash_password(password), role="city_admin"))
    return True


def ensure_gateway(session: Session, code: str, api_key: str, hall_code: str) -> bool:
    """Create the hall and the gateway with this key if missing. True if the gateway was created."""
    hall = session.scalars(select(Hall).where(Hall.code == hall_code)).first()
    if hall is None:
        hall = Hall(code=hall_code, name=hall_code, division_code="")
        session.add(hall)
        session.flush()
    if session.scalar(select(Gateway.id).where(Gateway.code == code)) is not None:
        return False
    session.add(Gateway(code=code, hall_id=hall.id, key_hash=hash_api_key(api_key), active=True))
    return True


def ensure_windows(session: Session, hall_code: str, codes: list[str]) -> int:
    """Create these windows in the hall if missing (entered by an admin, not auto-created).
    Returns how many were created."""
    hall_id = session.scalar(select(Hall.id).where(Hall.code == hall_code))
    if hall_id is None:
        return 0
    known = set(session.scalars(select(Window.code).where(Window.hall_id == hall_id)))
    new = [Window(hall_id=hall_id, code=c, name=c, active=True) for c in codes if c not in known]
    session.add_all(new)
    return len(new)


def apply(session: Session, settings: Settings) -> None:
    try:
        if settings.bootstrap_admin:
            username, password = settings.bootstrap_admin.split(":", 1)
            ensure_admin(session, username, password)
        if settings.bootstrap_gateway:
            code, key, hall = settings.bootstrap_gateway.split(":")
            ensure_gateway(session, code, key, hall)
            session.flush()
            ensure_windows(session, hall, settings.window_codes)
        session.commit()
    except IntegrityError:
        # Another worker process created them at the same moment.
        session.rollback()
