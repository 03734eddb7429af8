"""Admin CRUD for halls, departments, windows, staff, matters, devices, gateways and users."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.api.crud import Resource, build_router
from server.api.deps import PLAIN_TEXT, RefId
from server.codes import DEPARTMENT, DEVICE, GATEWAY, HALL, MATTER, STAFF, WINDOW
from server.models import AgentHall, Department, Device, Gateway, Hall, Matter, Staff, User, Window
from server.security import hash_api_key, hash_password, new_api_key

Name = Field(default="", max_length=128, pattern=PLAIN_TEXT)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int


# ---- halls


class HallCreate(BaseModel):
    code: str = HALL.field()
    name: str = Name
    division_code: str = Field(default="", pattern=r"^(\d{6}|\d{12})?$", description="行政区划代码")


class HallUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=128, pattern=PLAIN_TEXT)
    division_code: str | None = Field(default=None, pattern=r"^(\d{6}|\d{12})?$")


class HallOut(_Out):
    code: str
    name: str
    division_code: str


# ---- departments, windows, staff


class DepartmentCreate(BaseModel):
    hall_id: RefId
    code: str = DEPARTMENT.field()
    name: str = Name


class DepartmentUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=128, pattern=PLAIN_TEXT)


class DepartmentOut(_Out):
    hall_id: RefId
    code: str
    name: str


class WindowCreate(BaseModel):
    hall_id: RefId
    code: str = WINDOW.field()
    name: str = Name
    department_id: RefId | None = None
    active: bool = True


class WindowUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=128, pattern=PLAIN_TEXT)
    department_id: RefId | None = None
    active: bool | None = None


class WindowOut(_Out):
    hall_id: RefId
    code: str
    name: str
    department_id: int | None
    active: bool
    auto_created: bool


class StaffCreate(BaseModel):
    hall_id: RefId
    number: str = STAFF.field()
    name: str = Field(default="", max_length=64, pattern=PLAIN_TEXT)
    department_id: RefId | None = None
    active: bool = True


class StaffUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=64, pattern=PLAIN_TEXT)
    department_id: RefId | None = None
    active: bool | None = None


class StaffOut(_Out):
    hall_id: RefId
    number: str
    name: str
    department_id: int | None
    active: bool
    auto_created: bool


class MatterCreate(BaseModel):
    code: str = MATTER.field()
    name: str = Field(default="", max_length=256, pattern=PLAIN_TEXT)


class MatterUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=256, pattern=PLAIN_TEXT)


class MatterOut(_Out):
    code: str
    name: str


# ---- devices, gateways, users


class DeviceCreate(BaseModel):
    hall_id: RefId
    code: str = DEVICE.field()
    kind: Literal["evaluator", "ballot_box"]
    window_id: RefId | None = None


class DeviceUpdate(BaseModel):
    window_id: RefId | None = None


class DeviceOut(_Out):
    hall_id: RefId
    code: str
    kind: str
    window_id: int | None
    auto_created: bool


class GatewayCreate(BaseModel):
    hall_id: RefId
    code: str = GATEWAY.field()


class GatewayUpdate(BaseModel):
    active: bool | None = None


class GatewayOut(_Out):
    hall_id: RefId
    code: str
    active: bool
    api_key: str | None = Field(default=None, description="only in the create response")


USERNAME = r"^[A-Za-z0-9_.@-]+$"
Role = Literal["city_admin", "hall_admin", "viewer", "agent", "handler"]
MAX_AGENT_HALLS = 100
# An agent's halls besides hall_id (hall codes): it reads them and calls their citizens.
AgentHalls = Field(
    default=None, max_length=MAX_AGENT_HALLS, description="an agent's halls besides hall_id"
)


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=USERNAME)
    password: str = Field(min_length=8, max_length=256, pattern=PLAIN_TEXT)
    role: Role
    hall_id: RefId | None = None
    halls: list[str] = Field(default_factory=list, max_length=MAX_AGENT_HALLS)
    department_id: RefId | None = Field(
        default=None, description="a handler's department (null: every case of its hall)"
    )


class UserUpdate(BaseModel):
    """Any subset; a field not named here is a 422. A change of any field ends the user's
    existing tokens (token_version, server/models/access.py)."""

    model_config = ConfigDict(extra="forbid")
    username: str | None = Field(default=None, min_length=1, max_length=64, pattern=USERNAME)
    password: str | None = Field(default=None, min_length=8, max_length=256, pattern=PLAIN_TEXT)
    role: Role | None = None
    hall_id: RefId | None = None
    active: bool | None = None
    halls: list[str] | None = AgentHalls
    department_id: RefId | None = None


class UserOut(_Out):
    username: str
    role: str
    hall_id: RefId | None
    active: bool
    halls: list[str] = Field(default_factory=list, description="an agent's halls (codes)")
    department_id: RefId | None = None


# ---- reference checks


def _same_hall(
    session: Session, model: Any, item_id: int | None, hall_id: RefId | None, what: str
) -> None:
    if item_id is None:
        return
    row = session.get(model, item_id)
    if row is None or (hall_id is not None and row.hall_id != hall_id):
        raise HTTPException(422, f"{what} {item_id} does not exist in this hall")


def _hall_exists(session: Session, hall_id: RefId | None) -> None:
    if hall_id is not None and session.get(Hall, hall_id) is None:
        raise HTTPException(422, f"hall {hall_id} does not exist")


def _check_org(session: Session, values: dict[str, Any], hall_id: RefId | None) -> None:
    _hall_exists(session, values.get("hall_id"))
    _same_hall(session, Department, values.get("department_id"), hall_id, "department")


def _check_device(session: Session, values: dict[str, Any], hall_id: RefId | None) -> None:
    _hall_exists(session, values.get("hall_id"))
    _same_hall(session, Window, values.get("window_id"), hall_id, "window")


def _check_hall(session: Session, values: dict[str, Any], hall_id: RefId | None) -> None:
    _hall_exists(session, values.get("hall_id"))


def _check_user(
    session: Session, values: dict[str, Any], hall_id: RefId | None, row: Any = None
) -> None:
    for name in ("username", "password", "role", "active", "halls"):
        if name in values and values[name] is None:  # a PATCH with an explicit null
            raise HTTPException(422, f"{name} may not be null")
    # The role and hall the user will have: a PATCH may change either one alone.
    role = values.get("role", row.role if row is not None else None)
    hall = values.get("hall_id", row.hall_id if row is not None else None)
    if role == "hall_admin" and hall is None:
        raise HTTPException(422, "a hall admin needs hall_id")
    if role == "city_admin" and hall is not None:
        raise HTTPException(422, "a city admin is not bound to a hall")
    if role == "handler" and hall is None:
        raise HTTPException(422, "a handler needs hall_id")
    _hall_exists(session, values.get("hall_id"))
    if values.get("department_id") is not None:
        if role != "handler":
            raise HTTPException(422, "department_id is only for role handler")
        _same_hall(session, Department, values["department_id"], hall, "department")
    elif row is not None and row.department_id is not None and "department_id" not in values:
        # A handler moved to another hall cannot keep a department of the old one.
        kept = session.get(Department, row.department_id)
        if role == "handler" and kept is not None and kept.hall_id != hall:
            raise HTTPException(422, f"department {kept.id} does not exist in this hall")
    if values.get("halls"):
        if role != "agent":
            raise HTTPException(422, "halls is only for role agent")
        _agent_hall_ids(session, values["halls"])
    if "username" in values:
        taken = session.scalar(select(User.id).where(User.username == values["username"]))
        if taken is not None and (row is None or taken != row.id):
            raise HTTPException(409, f"username {values['username']!r} is taken")


def _agent_hall_ids(session: Session, codes: list[str]) -> set[int]:
    found = dict(session.execute(select(Hall.code, Hall.id).where(Hall.code.in_(codes))).all())
    for code in codes:
        if code not in found:
            raise HTTPException(422, f"unknown hall {code[:64]!r} in halls")
    return set(found.values())


def _user_halls(session: Session, row: Any, values: dict[str, Any]) -> None:
    """Replace the agent's halls by ``halls`` when given; a user that is not (or no longer) an
    agent has none, and one that is not a handler no department."""
    if row.role != "handler":
        row.department_id = None  # only a handler is bound to a department
    if row.role != "agent" or values.get("halls") is not None:
        session.execute(delete(AgentHall).where(AgentHall.user_id == row.id))
    if row.role == "agent" and values.get("halls"):
        for hall_id in sorted(_agent_hall_ids(session, values["halls"])):
            session.add(AgentHall(user_id=row.id, hall_id=hall_id))


def _user_out(session: Session, row: Any) -> dict[str, Any]:
    codes = session.scalars(
        select(Hall.code)
        .join(AgentHall, AgentHall.hall_id == Hall.id)
        .where(AgentHall.user_id == row.id)
        .order_by(Hall.code)
    )
    return {"halls": list(codes)}


def _prepare_user(values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    values.pop("halls", None)
    password = values.pop("password", None)
    if password is not None:
        values["password_hash"] = hash_password(password)
    return values


def _gateway_key(values: dict[str, Any]) -> dict[str, Any]:
    key = new_api_key()
    values["key_hash"] = hash_api_key(key)
    return {"api_key": key}


def _hall_id(row: Any) -> int | None:
    return int(row.hall_id) if row.hall_id is not None else None


resources = [
    Resource("halls", Hall, HallCreate, HallUpdate, HallOut, lambda r: int(r.id)),
    Resource(
        "departments",
        Department,
        DepartmentCreate,
        DepartmentUpdate,
        DepartmentOut,
        _hall_id,
        check=_check_hall,
    ),
    Resource("windows", Window, WindowCreate, WindowUpdate, WindowOut, _hall_id, check=_check_org),
    Resource("staff", Staff, StaffCreate, StaffUpdate, StaffOut, _hall_id, check=_check_org),
    Resource("matters", Matter, MatterCreate, MatterUpdate, MatterOut, lambda r: None),
    Resource(
        "devices", Device, DeviceCreate, DeviceUpdate, DeviceOut, _hall_id, check=_check_device
    ),
    Resource(
        "gateways",
        Gateway,
        GatewayCreate,
        GatewayUpdate,
        GatewayOut,
        _hall_id,
        check=_check_hall,
        extras_on_create=_gateway_key,
    ),
    Resource(
        "users",
        User,
        UserCreate,
        UserUpdate,
        UserOut,
        _hall_id,
        check=_check_user,
        check_update=_check_user,
        prepare=_prepare_user,
        city_admin_only=True,
        after_write=_user_halls,
        out_extra=_user_out,
    ),
]
routers = [build_router(r) for r in resources]
