"""GET /api/v1/reports/{kind}.{format}?period=&hall= (docs/reports.md "API").

kind: ranking | bad | appraisal; format: pdf | xlsx. Any role, scoped like GET /api/v1/scores:
a hall-bound account gets its own hall (``hall`` may be left out), another hall is 403. The
ranking without ``hall`` (an account of every hall) ranks the halls too; bad and appraisal are
one hall's (400 without one). 404 unknown kind or format, 400 a bad period, 503 no CJK font or
Pango on the server.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from server.api.deps import CurrentUser, PolicyDep, SessionDep
from server.api.rankings import MemoDep
from server.api.scope import resolve_period, resolve_scope
from server.cases.pdf import PdfUnavailable
from server.cases.routes_forms import _attachment
from server.reports.data import ReportError, Target
from server.reports.publish import MEDIA, publish
from server.reports.texts import FORMATS, KINDS

router = APIRouter(prefix="/reports", tags=["reports"])
_NAME = re.compile(r"^([a-z]+)\.([a-z]+)$")


@router.get(
    "/{name}",
    response_class=Response,
    responses={200: {"content": {m: {} for m in MEDIA.values()}, "description": "the file"}},
)
def report_file(
    name: Annotated[str, Path(max_length=32, description="ranking|bad|appraisal . pdf|xlsx")],
    session: SessionDep,
    caller: CurrentUser,
    policy: PolicyDep,
    memo: MemoDep,
    period: Annotated[str | None, Query(max_length=32, examples=["2026Q4"])] = None,
    hall: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The publication ``kind`` for ``period`` (2026Q4, 2026-11, 2026, ...) as a file."""
    m = _NAME.match(name)
    if m is None or m.group(1) not in KINDS or m.group(2) not in FORMATS:
        raise HTTPException(
            404,
            f"no report {name!r}; reports are {{{','.join(KINDS)}}}.{{{','.join(FORMATS)}}}",
        )
    kind, fmt = m.groups()
    if not period:
        raise HTTPException(400, "give period= (2026Q4, 2026-11, 2026)")
    p = resolve_period(period, None, None, policy.timezone)
    scope = resolve_scope(session, caller, hall)
    hall_ids = tuple(sorted(caller.hall_ids)) if caller.hall_ids is not None else None
    target = Target(scope.hall, hall_ids)
    try:
        data, filename = publish(session, policy, kind, fmt, p, target, memo)
    except ReportError as exc:
        raise HTTPException(400, str(exc)) from None
    except PdfUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    return _attachment(data, MEDIA[fmt], filename)
