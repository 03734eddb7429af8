"""Request dependencies: the DB session, settings, policy and the authenticated caller."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.config import Settings
from server.models import AgentHall, Gateway, Hall, User
from server.policy import Policy
from server.security import hash_api_key, read_token

MAX_ID = 2**31 - 1  # INTEGER primary keys
MAX_BIG_ID = 2**63 - 1  # BIGINT primary keys (evaluations, tickets)
# Ids in paths and bodies are bounded, so a huge number is a 422, not a driver overflow.
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
BigItemId = Annotated[int, Path(ge=1, le=MAX_BIG_ID)]
RefId = Annotated[int, Field(ge=1, le=MAX_ID)]
# Free text from admins: no control characters (PostgreSQL refuses NUL in text).
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"

bearer = HTTPBearer(auto_error=False, description="Admin token or gateway API key")


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_policy(request: Request) -> Policy:
    policy: Policy = request.app.state.policy
    return policy


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PolicyDep = Annotated[Policy, Depends(get_policy)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True)
class Caller:
    """An authenticated admin user. ``hall_id`` is the user's hall (None: not bound to one);
    ``hall_ids`` every hall it may read: ``{hall_id}``, for an ``agent`` also its agent_halls
    rows, None for every hall (an account bound to no hall at all)."""

    user_id: int
    username: str
    role: str
    hall_id: int | None
    hall_ids: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if self.hall_ids is None and self.hall_id is not None:
            object.__setattr__(self, "hall_ids", frozenset({self.hall_id}))

    @property
    def can_write(self) -> bool:
        return self.role in ("city_admin", "hall_admin")

    def sees(self, hall_id: int) -> bool:
        return self.hall_ids is None or hall_id in self.hall_ids

    def check_read(self, hall_id: int) -> None:
        if not self.sees(hall_id):
            raise HTTPException(403, "this account may only see its own hall")

    def check_write(self, hall_id: int | None) -> None:
        if not self.can_write:
            raise HTTPException(403, f"role {self.role} is read-only")
        if hall_id is None and self.hall_id is not None:
            raise HTTPException(403, "only a city admin may change city-wide data")
        if hall_id is not None:
            self.check_read(hall_id)


def current_user(session: SessionDep, settings: SettingsDep, creds: Credentials) -> Caller:
    if creds is None:
        raise _unauthorized("missing bearer token; get one from POST /api/v1/auth/token")
    claims = read_token(creds.credentials, settings.token_secret)
    if claims is None:
        raise _unauthorized("invalid or expired token")
    user = session.get(User, claims.user_id)
    if user is None or not user.active:
        raise _unauthorized("account disabled or removed")
    if user.token_version != claims.version:
        raise _unauthorized("token revoked (password, role or account changed); sign in again")
    hall_ids = None
    if user.role == "agent":
        extra = set(session.scalars(select(AgentHall.hall_id).where(AgentHall.user_id == user.id)))
        if extra:
            hall_ids = frozenset(extra | ({user.hall_id} if user.hall_id is not None else set()))
    return Caller(user.id, user.username, user.role, user.hall_id, hall_ids)


def writer(caller: Annotated[Caller, Depends(current_user)]) -> Caller:
    if not caller.can_write:
        raise HTTPException(403, f"role {caller.role} is read-only")
    return caller


def city_admin(caller: Annotated[Caller, Depends(current_user)]) -> Caller:
    if caller.role != "city_admin":
        raise HTTPException(403, "only a city admin may do this")
    return caller


CurrentUser = Annotated[Caller, Depends(current_user)]
Writer = Annotated[Caller, Depends(writer)]
CityAdmin = Annotated[Caller, Depends(city_admin)]


@dataclass(frozen=True)
class GatewayCaller:
    code: str
    hall_code: str
    id: int | None = None


def current_gateway(session: SessionDep, creds: Credentials) -> GatewayCaller:
    if creds is None:
        raise _unauthorized("missing gateway API key (Authorization: Bearer <key>)")
    row = session.execute(
        select(Gateway.code, Hall.code, Gateway.id)
        .join(Hall, Hall.id == Gateway.hall_id)
        .where(Gateway.key_hash == hash_api_key(creds.credentials), Gateway.active.is_(True))
    ).first()
    if row is None:
        raise _unauthorized("unknown or disabled gateway API key")
    return GatewayCaller(row[0], row[1], row[2])


GatewayDep = Annotated[GatewayCaller, Depends(current_gateway)]
