"""A small factory for the admin create/read/update/delete routers, scoped by hall and role.

No ``from __future__ import annotations`` here: FastAPI must see the real schema classes
in the endpoint signatures built inside the factory.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.deps import Caller, CurrentUser, ItemId, SessionDep, Writer
from server.db import begin_write


@dataclass
class Resource:
    path: str  # "windows"
    model: Any
    create: type[BaseModel]
    update: type[BaseModel]
    out: type[BaseModel]
    # The hall a row belongs to (None: city-wide, only a city admin may change it).
    hall_of: Callable[[Any], int | None]
    # Check references (e.g. a window's department is in the same hall); raise HTTPException.
    check: Callable[[Session, dict[str, Any], int | None], None] | None = None
    # The same for a PATCH, given the row as it is (for checks across old and new values).
    check_update: Callable[[Session, dict[str, Any], int | None, Any], None] | None = None
    # Turn the create payload into column values (e.g. hash a password); may add output extras.
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    extras_on_create: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    city_admin_only: bool = False
    # After a create or update is flushed, given the payload as sent (e.g. an agent's halls).
    after_write: Callable[[Session, Any, dict[str, Any]], None] | None = None
    # Fields of the output that are not columns of the row (e.g. an agent's halls).
    out_extra: Callable[[Session, Any], dict[str, Any]] | None = None


def _output(session: Session, res: Resource, row: Any, extras: dict[str, Any] | None = None) -> Any:
    if not extras and res.out_extra is None:
        return row
    out = res.out.model_validate(row).model_dump()
    if res.out_extra is not None:
        out.update(res.out_extra(session, row))
    return {**out, **(extras or {})}


def _scoped_list(res: Resource, caller: Caller) -> Any:
    stmt = select(res.model).order_by(res.model.id)
    if caller.hall_ids is not None:
        if hasattr(res.model, "hall_id"):
            stmt = stmt.where(res.model.hall_id.in_(caller.hall_ids))
        elif res.path == "halls":
            stmt = stmt.where(res.model.id.in_(caller.hall_ids))
    return stmt


def _get(session: Session, res: Resource, caller: Caller, item_id: ItemId) -> Any:
    row = session.get(res.model, item_id)
    hall_id = res.hall_of(row) if row is not None else None
    if row is None or (hall_id is not None and not caller.sees(hall_id)):
        raise HTTPException(404, f"no {res.path} item with id {item_id}")
    return row


def _guard(res: Resource, caller: Caller, hall_id: int | None) -> None:
    if res.city_admin_only and caller.role != "city_admin":
        raise HTTPException(403, "only a city admin may do this")
    caller.check_write(hall_id)


def build_router(res: Resource) -> APIRouter:
    router = APIRouter(prefix=f"/{res.path}", tags=["admin"])
    Out, Create, Update = res.out, res.create, res.update

    @router.get("", response_model=list[Out], name=f"list_{res.path}")  # type: ignore[valid-type]
    def list_items(
        session: SessionDep,
        caller: CurrentUser,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    ) -> Any:
        if res.city_admin_only and caller.role != "city_admin":
            raise HTTPException(403, "only a city admin may do this")
        rows = session.scalars(_scoped_list(res, caller).limit(limit).offset(offset)).all()
        return [_output(session, res, row) for row in rows]

    @router.get("/{item_id}", response_model=Out, name=f"get_{res.path}")
    def get_item(session: SessionDep, caller: CurrentUser, item_id: ItemId) -> Any:
        if res.city_admin_only and caller.role != "city_admin":
            raise HTTPException(403, "only a city admin may do this")
        return _output(session, res, _get(session, res, caller, item_id))

    @router.post("", response_model=Out, status_code=201, name=f"create_{res.path}")
    def create_item(session: SessionDep, caller: Writer, body: Create) -> Any:  # type: ignore[valid-type]
        values = body.model_dump()  # type: ignore[attr-defined]
        hall_id = values.get("hall_id")
        if res.path == "halls" or (hall_id is None and "hall_id" not in values):
            hall_id = None
        _guard(res, caller, hall_id)
        begin_write(session)
        if res.check:
            res.check(session, values, hall_id)
        extras = res.extras_on_create(values) if res.extras_on_create else {}
        sent = values
        if res.prepare:
            values = res.prepare(values)
        row = res.model(**values)
        session.add(row)
        if res.after_write:
            session.flush()
            res.after_write(session, row, sent)
        session.commit()
        return _output(session, res, row, extras)

    @router.patch("/{item_id}", response_model=Out, name=f"update_{res.path}")
    def update_item(session: SessionDep, caller: Writer, item_id: ItemId, body: Update) -> Any:  # type: ignore[valid-type]
        begin_write(session)
        row = _get(session, res, caller, item_id)
        _guard(res, caller, res.hall_of(row))
        values = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        if res.check_update:
            res.check_update(session, values, res.hall_of(row), row)
        elif res.check:
            res.check(session, values, res.hall_of(row))
        sent = values
        if res.prepare:
            values = res.prepare(values)
        for name, value in values.items():
            setattr(row, name, value)
        if res.after_write:
            session.flush()
            res.after_write(session, row, sent)
        session.commit()
        return _output(session, res, row)

    @router.delete("/{item_id}", status_code=204, name=f"delete_{res.path}")
    def delete_item(session: SessionDep, caller: Writer, item_id: ItemId) -> Response:
        begin_write(session)
        row = _get(session, res, caller, item_id)
        _guard(res, caller, None if res.path == "halls" else res.hall_of(row))
        session.delete(row)
        session.commit()
        return Response(status_code=204)

    return router
