"""POST /api/v1/auth/token: an admin's username and password (form or JSON) for a bearer token."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from server.api.deps import CurrentUser, SessionDep, SettingsDep
from server.models import Hall, User
from server.security import make_token, verify_password

router = APIRouter(tags=["auth"])

_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["username", "password"],
                "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
            }
        },
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["username", "password"],
                "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
            }
        },
    },
}


async def _credentials(request: Request) -> tuple[str, str]:
    body = await request.body()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data: Any
    try:
        if ctype == "application/x-www-form-urlencoded":
            data = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        else:
            data = json.loads(body or b"null")
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "body must be JSON or a urlencoded form") from None
    if not isinstance(data, dict):
        raise HTTPException(422, "body must have username and password")
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise HTTPException(422, "username and password are required strings")
    return username, password


@router.post("/auth/token", openapi_extra={"requestBody": _BODY})
async def token(request: Request, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    username, password = await _credentials(request)
    user = await run_in_threadpool(_check_login, session, username, password)
    return {
        "access_token": make_token(user.id, settings.token_secret, settings.token_ttl_seconds),
        "token_type": "bearer",
        "expires_in": settings.token_ttl_seconds,
        "role": user.role,
    }


def _check_login(session: Session, username: str, password: str) -> User:
    # scrypt takes tens of milliseconds: keep it off the event loop.
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active or not verify_password(password, user.password_hash):
        raise HTTPException(401, "wrong username or password")
    return user


@router.get("/auth/me")
def me(caller: CurrentUser, session: SessionDep) -> dict[str, Any]:
    hall = session.get(Hall, caller.hall_id) if caller.hall_id is not None else None
    return {
        "username": caller.username,
        "role": caller.role,
        "hall": hall.code if hall else None,
    }
