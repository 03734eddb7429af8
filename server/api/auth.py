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
from server.login_guard import HashPool, LoginThrottle, PoolFull
from server.models import Hall, User
from server.security import dummy_password_hash, make_token, verify_password

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


@router.post(
    "/auth/token",
    openapi_extra={"requestBody": _BODY},
    responses={
        401: {"description": "wrong username or password"},
        429: {"description": "too many failed logins for this username or address"},
        503: {"description": "too many logins at once; retry after Retry-After seconds"},
    },
)
async def token(request: Request, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    username, password = await _credentials(request)
    throttle: LoginThrottle = request.app.state.login_throttle
    pool: HashPool = request.app.state.hash_pool
    address = request.client.host if request.client else "unknown"
    if wait := throttle.retry_after(username, address):
        raise HTTPException(
            429,
            f"too many failed logins; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    user = await run_in_threadpool(_find_user, session, username)
    stored = user.password_hash if user is not None else dummy_password_hash()
    try:
        # scrypt takes tens of milliseconds and 16 MB: a few threads, a bounded queue.
        ok = await pool.run(verify_password, password, stored)
    except PoolFull:
        raise HTTPException(
            503, "too many logins at once; retry shortly", headers={"Retry-After": "1"}
        ) from None
    if user is None or not user.active or not ok:
        throttle.failed(username, address)
        raise HTTPException(401, "wrong username or password")
    throttle.succeeded(username)
    return {
        "access_token": make_token(
            user.id,
            settings.token_secret,
            settings.token_ttl_seconds,
            version=user.token_version,
        ),
        "token_type": "bearer",
        "expires_in": settings.token_ttl_seconds,
        "role": user.role,
    }


def _find_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


@router.get("/auth/me")
def me(caller: CurrentUser, session: SessionDep) -> dict[str, Any]:
    hall = session.get(Hall, caller.hall_id) if caller.hall_id is not None else None
    halls = None
    if caller.hall_ids is not None:
        halls = list(
            session.scalars(
                select(Hall.code).where(Hall.id.in_(caller.hall_ids)).order_by(Hall.code)
            )
        )
    return {
        "username": caller.username,
        "role": caller.role,
        "hall": hall.code if hall else None,
        "halls": halls,
    }
