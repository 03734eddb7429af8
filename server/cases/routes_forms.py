"""A case's seed form as PDF and a hall's 台账 as XLSX (docs/cases.md "Forms and ledger"):

GET /api/v1/cases/{case_id}/forms/{form}.pdf   form: chengban | shouli | zhuanban
GET /api/v1/cases/ledger.xlsx?hall=&kind=&from=&to=

Any role that sees the case's hall. Phone numbers in full for the roles that may read a case's
number (city_admin, agent, a handler for the cases it may work: as GET /api/v1/cases/{id}/phone),
each one a ``phone`` row in the case's trail; masked for every other role.

Registered before the case API's router (server/app.py): ``/cases/ledger.xlsx`` must not be
taken for ``/cases/{case_id}``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.deps import BigItemId, Caller, CurrentUser, PolicyDep, SessionDep, SettingsDep
from server.api.scope import hall_by_code
from server.cases import printing
from server.cases.forms import FormNotApplicable
from server.cases.pdf import PdfUnavailable
from server.models import PHONE_ROLES, Hall, User
from server.models.cases import Case

router = APIRouter(prefix="/cases", tags=["cases"])
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def _reader(session: Session, caller: Caller) -> printing.Reader | None:
    if caller.role in PHONE_ROLES:
        return printing.Reader(caller.username, caller.role)
    if caller.role == "handler":
        dept = session.scalar(select(User.department_id).where(User.id == caller.user_id))
        return printing.Reader(caller.username, caller.role, dept)
    return None


def _attachment(data: bytes, media_type: str, filename: str) -> Response:
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"
            ),
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/ledger.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "the 台账, one row per case"}},
)
def case_ledger(
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    caller: CurrentUser,
    hall: Annotated[str | None, Query(max_length=32, description="hall code")] = None,
    kind: Annotated[Literal["bad_rating", "complaint", "cannot_do"] | None, Query()] = None,
    start: Annotated[date | None, Query(alias="from", description="first day accepted")] = None,
    end: Annotated[date | None, Query(alias="to", description="last day accepted")] = None,
) -> Response:
    """The 台账 of one hall's cases accepted from ``from`` to ``to`` (hall-local days, both
    optional), oldest first, in the seed's columns. ``hall`` may be left out by an account of
    one hall."""
    if hall is not None:
        row = hall_by_code(session, hall)
        caller.check_read(row.id)
    elif caller.hall_ids is not None and len(caller.hall_ids) == 1:
        found = session.get(Hall, next(iter(caller.hall_ids)))
        if found is None:
            raise HTTPException(404, "this account's hall no longer exists")
        row = found
    else:
        raise HTTPException(400, "give hall= (the ledger is one hall's)")
    for day in (start, end):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise HTTPException(400, f"from and to must be days in {FIRST_DAY}..{LAST_DAY}")
    if start is not None and end is not None and start > end:
        raise HTTPException(400, "from must not be after to")
    q = printing.LedgerQuery(row.id, kind, start, end)
    data, _ = printing.ledger(session, settings.phone_cipher, policy, q, _reader(session, caller))
    name = "-".join(
        p for p in ("ledger", row.code, kind, start and str(start), end and str(end)) if p
    )
    return _attachment(data, XLSX, f"{name}.xlsx")


@router.get(
    "/{case_id}/forms/{form}.pdf",
    response_class=Response,
    responses={200: {"content": {PDF: {}}, "description": "the filled form, A4"}},
)
def case_form_pdf(
    case_id: BigItemId,
    form: Annotated[str, Path(max_length=16, description="chengban, shouli or zhuanban")],
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    caller: CurrentUser,
) -> Response:
    """承办单 (chengban: complaint), 受理单 (shouli: cannot_do), 转办单 (zhuanban: a cannot_do
    case transferred to another office) as PDF: 404 unknown case (or another hall's) or form,
    409 a form that is not the case's, 503 no CJK font or Pango on the server."""
    case = session.get(Case, case_id)
    if case is None or not caller.sees(case.hall_id):
        raise HTTPException(404, f"no case with id {case_id}")  # as GET /api/v1/cases/{id}
    number = case.number
    try:
        data = printing.case_form(
            session, settings.phone_cipher, policy, case, form, _reader(session, caller)
        )
    except printing.UnknownForm as exc:
        raise HTTPException(404, str(exc)) from None
    except FormNotApplicable as exc:
        raise HTTPException(409, str(exc)) from None
    except PdfUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    return _attachment(data, PDF, f"{number}-{form}.pdf")
