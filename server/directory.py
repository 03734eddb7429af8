"""Code → id resolution for ingest: halls, windows, staff, devices, matters and departments.

Records name things by their codes ("H1", "A03", "1007", "EV-A03"). ``Directory`` turns
them into row ids, creating the staff, devices and matters a gateway reports before an admin
entered them (marked ``auto_created``) rather than losing the vote. Windows are created only in
the halls the caller names (policy ``[directory] auto_create_windows``, default none); halls
and departments must exist. Every code was checked against server/codes.py before.

Resolved ids are kept per engine across batches (docs/adr/0009-directory-cache.md). The
cache is valid for one value of ``directory_version.version``, which every ORM change or
deletion of a hall, department, window, staff member, device or matter increments in the
same transaction (``_bump_version`` below). Creations need no bump: a code the cache does
not know is looked up. What a batch looked up is published to the cache only after its
transaction commits, so ids of rows a rolled-back batch created never leak into it.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Table, event, insert, select, tuple_, update
from sqlalchemy.orm import Session, UOWTransaction

from server.models import Department, Device, DirectoryVersion, Hall, Matter, Staff, Window
from server.models.base import utcnow

CHUNK = 500  # codes per IN list
_TRACKED = (Hall, Department, Window, Staff, Device, Matter)
_VERSION = cast(Table, DirectoryVersion.__table__)
_PENDING = "hallrate.directory"  # session.info key: the Directory waiting for the commit

HallCode = tuple[int, str]  # (hall id, code)


@dataclass
class _Ids:
    """One snapshot of resolved ids. Published snapshots are replaced, never mutated."""

    version: int | None
    halls: dict[str, int] = field(default_factory=dict)
    windows: dict[HallCode, tuple[int, int | None]] = field(default_factory=dict)  # id, dept
    staff: dict[HallCode, tuple[int, int | None]] = field(default_factory=dict)
    devices: dict[HallCode, int] = field(default_factory=dict)
    matters: dict[str, int] = field(default_factory=dict)
    departments: dict[HallCode, int] = field(default_factory=dict)

    def copy(self) -> _Ids:
        return _Ids(
            self.version,
            dict(self.halls),
            dict(self.windows),
            dict(self.staff),
            dict(self.devices),
            dict(self.matters),
            dict(self.departments),
        )


_CACHE: WeakKeyDictionary[Engine, _Ids] = WeakKeyDictionary()


def current_version(session: Session) -> int | None:
    row = session.connection().execute(select(_VERSION.c.version).where(_VERSION.c.id == 1))
    value = row.scalar()
    return None if value is None else int(value)


def clear_cache() -> None:
    """Forget every engine's cached ids (tests; the version check makes it unnecessary)."""
    _CACHE.clear()


class Directory:
    """The ids of one batch: the engine's cached ids plus what this batch looked up."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._engine = cast(Engine, session.get_bind())
        version = current_version(session)
        cached = _CACHE.get(self._engine)
        if version is None or cached is None or cached.version != version:
            cached = _Ids(version)
        self._ids = cached.copy()
        self.halls = self._ids.halls
        self.windows = self._ids.windows
        self.staff = self._ids.staff
        self.devices = self._ids.devices
        self.matters = self._ids.matters
        self.departments = self._ids.departments
        session.info[_PENDING] = self

    def _publish(self) -> None:
        if self._ids.version is None:
            return
        cached = _CACHE.get(self._engine)
        # Versions only grow; a batch that read an older one than the cache's has nothing
        # to add that the cache may keep.
        if cached is None or cached.version is None or self._ids.version >= cached.version:
            _CACHE[self._engine] = self._ids

    def load_halls(self, codes: Iterable[str]) -> None:
        wanted = sorted(set(codes) - self.halls.keys())
        if wanted:
            rows = self.session.execute(select(Hall.code, Hall.id).where(Hall.code.in_(wanted)))
            self.halls.update({code: hid for code, hid in rows})

    def load(
        self,
        *,
        windows: set[HallCode],
        create_windows_in: Container[int] = (),
        staff: set[HallCode],
        devices: Mapping[HallCode, str],
        matters: set[str],
        departments: set[HallCode],
    ) -> None:
        """Resolve these codes, creating missing staff, devices (of the given kind), matters,
        and windows of the halls in ``create_windows_in``. Unknown departments and other
        windows stay unresolved: the caller rejects or flags their records."""
        s = self.session
        win = windows - self.windows.keys()
        stf = staff - self.staff.keys()
        dev = set(devices) - self.devices.keys()
        mat = matters - self.matters.keys()
        dep = departments - self.departments.keys()
        self._fetch_windows(win)
        self._fetch_staff(stf)
        self._fetch_devices(dev)
        self._fetch_matters(mat)
        if dep:
            rows = s.execute(
                select(Department.hall_id, Department.code, Department.id).where(
                    tuple_(Department.hall_id, Department.code).in_(sorted(dep))
                )
            )
            self.departments.update({(h, c): i for h, c, i in rows})
        if missing := {(h, c) for h, c in win - self.windows.keys() if h in create_windows_in}:
            s.execute(
                insert(Window),
                [
                    {"hall_id": h, "code": c, "name": "", "active": True, "auto_created": True}
                    for h, c in sorted(missing)
                ],
            )
            self._fetch_windows(missing)
        if missing_staff := stf - self.staff.keys():
            s.execute(
                insert(Staff),
                [
                    {"hall_id": h, "number": c, "name": "", "active": True, "auto_created": True}
                    for h, c in sorted(missing_staff)
                ],
            )
            self._fetch_staff(missing_staff)
        if missing_dev := dev - self.devices.keys():
            now = utcnow()
            s.execute(
                insert(Device),
                [
                    {
                        "hall_id": h,
                        "code": c,
                        "kind": devices[(h, c)],
                        "auto_created": True,
                        "created_at": now,
                    }
                    for h, c in sorted(missing_dev)
                ],
            )
            self._fetch_devices(missing_dev)
        if missing_mat := mat - self.matters.keys():
            s.execute(insert(Matter), [{"code": c, "name": ""} for c in sorted(missing_mat)])
            self._fetch_matters(missing_mat)

    def _pairs(self, model: Any, col: Any, extra: list[Any], pairs: set[HallCode]) -> Iterator[Any]:
        by_hall: dict[int, list[str]] = {}
        for hall_id, code in pairs:
            by_hall.setdefault(hall_id, []).append(code)
        for hall_id, codes in by_hall.items():
            codes.sort()
            for i in range(0, len(codes), CHUNK):
                yield from self.session.execute(
                    select(model.hall_id, col, model.id, *extra).where(
                        model.hall_id == hall_id, col.in_(codes[i : i + CHUNK])
                    )
                )

    def _fetch_windows(self, pairs: set[HallCode]) -> None:
        for h, c, i, d in self._pairs(Window, Window.code, [Window.department_id], pairs):
            self.windows[(h, c)] = (i, d)

    def _fetch_staff(self, pairs: set[HallCode]) -> None:
        for h, c, i, d in self._pairs(Staff, Staff.number, [Staff.department_id], pairs):
            self.staff[(h, c)] = (i, d)

    def _fetch_devices(self, pairs: set[HallCode]) -> None:
        for h, c, i in self._pairs(Device, Device.code, [], pairs):
            self.devices[(h, c)] = i

    def _fetch_matters(self, codes: set[str]) -> None:
        ordered = sorted(codes)
        for i in range(0, len(ordered), CHUNK):
            rows = self.session.execute(
                select(Matter.code, Matter.id).where(Matter.code.in_(ordered[i : i + CHUNK]))
            )
            self.matters.update({c: mid for c, mid in rows})


# ---------------------------------------------------------------- session hooks


@event.listens_for(Session, "before_flush")
def _bump_version(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    """A changed or deleted directory row invalidates every engine's cached ids."""
    changed = any(isinstance(obj, _TRACKED) for obj in session.deleted) or any(
        isinstance(obj, _TRACKED) and session.is_modified(obj) for obj in session.dirty
    )
    if changed:
        session.connection().execute(update(_VERSION).values(version=_VERSION.c.version + 1))


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is not None:
        pending._publish()


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_begin")
def _drop_leftovers(session: Session, _transaction: Any, _connection: Any) -> None:
    # A transaction that ended without a commit or an explicit rollback (a closed session)
    # must not have its lookups published by a later transaction's commit.
    session.info.pop(_PENDING, None)
