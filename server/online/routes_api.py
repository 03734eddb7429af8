"""The online-rating API (docs/api.md "Online rating", docs/online-rating.md):

POST /api/v1/online/links       the rating link of a finished ticket (a gateway key for its own
                                hall, or a city / hall admin for their halls); idempotent
GET  /api/v1/online/rejections  refused attempts, with counts by reason (city / hall admins)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from server.api.deps import (
    Credentials,
    PolicyDep,
    SessionDep,
    SettingsDep,
    Writer,
    current_gateway,
    current_user,
)
from server.api.scope import hall_by_code
from server.calendar import working_days
from server.codes import HALL, TICKET
from server.models.online import REJECTION_REASONS
from server.online.links import issue_link
from server.online.lookup import latest_ticket
from server.online.period import rating_period
from server.online.rejections import RejectionFilter, list_rejections, rejection_counts
from server.security import read_token

router = APIRouter(prefix="/online", tags=["online"])
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def link_issuer(
    session: SessionDep, settings: SettingsDep, creds: Credentials
) -> frozenset[int] | None:
    """The halls the caller may issue links for (None: every hall): an admin token of a city
    or hall admin, or a gateway API key (its own hall)."""
    if creds is not None and read_token(creds.credentials, settings.token_secret) is not None:
        caller = current_user(session, settings, creds)
        if not caller.can_write:
            raise HTTPException(403, f"role {caller.role} may not issue rating links")
        return caller.hall_ids
    gateway = current_gateway(session, creds)
    return frozenset({hall_by_code(session, gateway.hall_code).id})


Issuer = Annotated[frozenset[int] | None, Depends(link_issuer)]


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hall: str = HALL.field(description="hall code")
    ticket: str = TICKET.field(description="ticket number")
    ticket_day: date | None = Field(
        default=None, description="the ticket's hall-local day; default: its latest day"
    )


class LinkOut(BaseModel):
    url: str = Field(description="HALLRATE_PUBLIC_URL + /r/<token>")
    token: str
    expires_at: datetime
    qr_svg_url: str
    qr_png_url: str
    hall: str
    ticket: str
    ticket_day: date


@router.post(
    "/links",
    response_model=LinkOut,
    responses={
        403: {"description": "another hall's ticket"},
        404: {"description": "unknown hall or ticket"},
        409: {"description": "the ticket is not finished"},
        410: {"description": "the ticket's rating period (late limit included) is over"},
    },
)
def create_link(
    request: Request,
    body: LinkIn,
    halls: Issuer,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
) -> LinkOut:
    hall = hall_by_code(session, body.hall)
    if halls is not None and hall.id not in halls:
        raise HTTPException(403, "this key or account may only issue links for its own hall")
    ticket = latest_ticket(session, hall.id, body.ticket, body.ticket_day)
    if ticket is None:
        raise HTTPException(404, f"unknown ticket {body.ticket!r} in hall {body.hall!r}")
    if ticket.finished_at is None:
        raise HTTPException(409, f"ticket {body.ticket!r} is not finished")
    days = working_days(session, policy)
    now: datetime = request.app.state.online_clock()
    today = now.astimezone(ZoneInfo(policy.timezone)).date()
    if rating_period(ticket.local_day, policy.online, days).timing(today) == "closed":
        raise HTTPException(410, f"the rating period of ticket {body.ticket!r} is over")
    try:
        link = issue_link(session, settings, policy, days, ticket)
    except ValueError:
        raise HTTPException(
            422, "a ticket number in a link may only hold A-Z a-z 0-9 _ -"
        ) from None
    return LinkOut(
        url=link.url,
        token=link.token,
        expires_at=link.expires_at,
        qr_svg_url=f"{link.url}/qr.svg",
        qr_png_url=f"{link.url}/qr.png",
        hall=hall.code,
        ticket=ticket.number,
        ticket_day=ticket.local_day,
    )


class RejectionOut(BaseModel):
    id: int
    at: datetime
    reason: str
    hall: str | None
    ticket: str | None
    ticket_day: date | None
    address_hash: str = Field(description="keyed hash of the client address, never the address")
    path: str = Field(description="link | window")
    detail: str


class RejectionPage(BaseModel):
    items: list[RejectionOut]
    counts: dict[str, int] = Field(description="every matching rejection by reason, all pages")
    next_cursor: str | None


@router.get("/rejections", response_model=RejectionPage)
def rejections(
    session: SessionDep,
    settings: SettingsDep,
    caller: Writer,
    hall: Annotated[str | None, Query(max_length=64)] = None,
    reason: Annotated[Literal[REJECTION_REASONS] | None, Query()] = None,  # type: ignore[valid-type]
    start: Annotated[date | None, Query(alias="from", description="day, HALLRATE_TZ")] = None,
    end: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    if cursor is not None and (not cursor.isdigit() or len(cursor) > 18):
        raise HTTPException(400, "cursor must be the next_cursor of a previous page")
    for day in (start, end):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise HTTPException(400, f"from and to must be days in {FIRST_DAY}..{LAST_DAY}")
    hall_ids: tuple[int, ...] | None = None
    if hall is not None:
        row = hall_by_code(session, hall)
        caller.check_read(row.id)
        hall_ids = (row.id,)
    elif caller.hall_ids is not None:
        hall_ids = tuple(sorted(caller.hall_ids))
    zone = ZoneInfo(settings.tz)
    f = RejectionFilter(
        hall_ids,
        reason,
        datetime.combine(start, time(), zone).astimezone(UTC) if start else None,
        datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC) if end else None,
    )
    items = list_rejections(session, f, int(cursor or 0), limit + 1)
    more = len(items) > limit
    return {
        "items": items[:limit],
        "counts": rejection_counts(session, f),
        "next_cursor": str(items[limit - 1]["id"]) if more else None,
    }
