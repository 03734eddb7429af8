"""The citizen's pages (docs/online-rating.md "The rating page", "Per-window QR codes"):

GET  /r/{token}                    the rating page, or 已评价 (with the 追评 form while allowed)
POST /r/{token}                    the rating form → 303 to GET /r/{token}
GET  /r/{token}/qr.svg, qr.png     the link's QR code
GET  /w/{hall}/{window}            a window's static QR page: asks for the ticket number
POST /w/{hall}/{window}            field ``ticket`` → 303 to the ticket's /r/{token}
GET  /w/{hall}/{window}/qr.svg|png the window page's QR code (to print)

Every refusal is a page with its status (server/online/rejections.py), logged.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.rating_token import LinkClaims, TokenError, peek
from server.calendar import working_days
from server.codes import HALL, WINDOW
from server.config import Settings
from server.db import begin_write
from server.models import Hall, Window
from server.online.keys import address_hash
from server.online.limits import AttemptLimits
from server.online.links import issue_link, link_url, read_link
from server.online.lookup import LINK_NUMBER, window_ticket
from server.online.pages import rating_page, refusal_page, window_page
from server.online.period import rating_period
from server.online.qr import qr_png, qr_svg
from server.online.rejections import Refusal, record_rejection
from server.online.service import parse_form, rating_state, submit, target_of
from server.policy import Policy

STATIC_DIR = Path(__file__).parent / "static"
FORM_TYPE = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store"}
router = APIRouter(include_in_schema=False)


def register(app: FastAPI, policy: Policy) -> None:
    """The pages, their stylesheet, the attempt limits and the clock (tests replace it)."""
    app.state.online_limits = AttemptLimits(policy.online)
    app.state.online_clock = lambda: datetime.now(UTC)
    app.mount("/static/online", StaticFiles(directory=STATIC_DIR), name="online-static")
    app.include_router(router)


class Visit:
    """One request to a page: its session, settings, policy, clock, language and address."""

    def __init__(self, request: Request) -> None:
        state = request.app.state
        self.session: Session = state.sessionmaker()
        self.settings: Settings = state.settings
        self.policy: Policy = state.policy
        self.limits: AttemptLimits = state.online_limits
        self.now: datetime = state.online_clock()
        self.today: date = self.now.astimezone(ZoneInfo(self.policy.timezone)).date()
        self.lang = "zh"
        self.set_lang(request.query_params.get("lang"))
        self.address = request.client.host if request.client else "unknown"
        self.path = request.url.path

    def set_lang(self, lang: str | None) -> None:
        if lang is not None:
            self.lang = "en" if lang == "en" else "zh"

    def close(self) -> None:
        self.session.close()

    def refused(self, refusal: Refusal, kind: str, back: str | None = None) -> HTMLResponse:
        record_rejection(
            self.session, refusal, address_hash(self.settings, self.address), kind, self.now
        )
        html = refusal_page(refusal.reason, self.lang, self.path, back, self.policy.online)
        headers = dict(NO_STORE)
        if refusal.reason == "rate_limited":
            headers["Retry-After"] = "3600"
        return HTMLResponse(html, status_code=refusal.status, headers=headers)

    def attempt(self, ticket: str | None) -> None:
        """Count one attempt; raises Refusal rate_limited past a limit."""
        which = self.limits.attempt(self.address, ticket, self.now.timestamp())
        if which is not None:
            raise Refusal("rate_limited", f"attempts per {which} per hour")

    def with_lang(self, path: str) -> str:
        return f"{path}?lang=en" if self.lang == "en" else path


def _peek(token: str) -> LinkClaims | None:
    """The claims of a well-formed token, not yet verified: which ticket an attempt is for."""
    try:
        return peek(token)
    except TokenError:
        return None


def _about(refusal: Refusal, hall: str | None, ticket: str | None, day: date | None) -> Refusal:
    """``refusal`` naming the hall and ticket the attempt was for, when it names none."""
    if refusal.hall is None and refusal.ticket is None:
        refusal.hall, refusal.ticket, refusal.ticket_day = hall, ticket, day
    return refusal


def _form_pairs(request: Request, body: bytes) -> list[tuple[str, str]]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != FORM_TYPE:
        raise Refusal("invalid_form", f"content type must be {FORM_TYPE}")
    try:
        return parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=100
        )
    except (UnicodeDecodeError, ValueError):
        raise Refusal("invalid_form", "not a urlencoded UTF-8 form") from None


def _lang_of(pairs: list[tuple[str, str]]) -> str | None:
    return next((v for k, v in pairs if k == "lang"), None)


# ---------------------------------------------------------------- /r/{token}


@router.get("/r/{token}", response_class=HTMLResponse)
def get_rating_page(request: Request, token: str) -> Response:
    visit = Visit(request)
    try:
        claims = read_link(visit.session, visit.settings, token, visit.now)
        target = target_of(visit.session, claims)
        state = rating_state(visit.session, target, visit.policy.online)
        period = rating_period(
            target.ticket_day, visit.policy.online, working_days(visit.session, visit.policy)
        )
        timing = period.timing(visit.today)
        if state.first is None and timing == "closed":
            raise Refusal(
                "expired",
                "the rating period is over",
                hall=target.hall,
                ticket=target.ticket,
                ticket_day=target.ticket_day,
            )
        late_until = period.late_last_day if timing == "late" else None
        html = rating_page(
            target, state, late_until, visit.today, visit.policy.online, token, visit.lang
        )
        return HTMLResponse(html, headers=NO_STORE)
    except Refusal as refusal:
        return visit.refused(refusal, "link")
    finally:
        visit.close()


@router.post("/r/{token}", response_class=HTMLResponse)
async def post_rating(request: Request, token: str) -> Response:
    body = await request.body()
    return await run_in_threadpool(_post_rating, request, token, body)


def _post_rating(request: Request, token: str, body: bytes) -> Response:
    visit = Visit(request)
    back: str | None = None
    peeked = _peek(token)
    try:
        slot = f"{peeked.hall}:{peeked.ticket_day}:{peeked.ticket}" if peeked else None
        visit.attempt(slot)
        pairs = _form_pairs(request, body)
        visit.set_lang(_lang_of(pairs))
        claims = read_link(visit.session, visit.settings, token, visit.now)
        back = visit.with_lang(f"/r/{token}")
        target = target_of(visit.session, claims)
        form = parse_form(pairs, visit.policy.online)
        begin_write(visit.session)
        period = rating_period(
            target.ticket_day, visit.policy.online, working_days(visit.session, visit.policy)
        )
        submit(visit.session, visit.policy, target, period, form, visit.now, visit.today)
        visit.session.commit()
        return RedirectResponse(back, status_code=303, headers=NO_STORE)
    except Refusal as refusal:
        if peeked is not None:
            _about(refusal, peeked.hall, peeked.ticket, peeked.ticket_day)
        return visit.refused(refusal, "link", back)
    finally:
        visit.close()


def _qr(url: str, kind: str) -> Response:
    if kind == "png":
        return Response(qr_png(url), media_type="image/png", headers=NO_STORE)
    return Response(qr_svg(url), media_type="image/svg+xml", headers=NO_STORE)


@router.get("/r/{token}/qr.{kind}")
def link_qr(request: Request, token: str, kind: str) -> Response:
    visit = Visit(request)
    try:
        if kind not in ("svg", "png"):
            raise Refusal("malformed", f"no QR code format {kind!r}")
        read_link(visit.session, visit.settings, token, visit.now)
        return _qr(link_url(visit.settings, token), kind)
    except Refusal as refusal:
        return visit.refused(refusal, "link")
    finally:
        visit.close()


# ---------------------------------------------------------------- /w/{hall}/{window}


def _window(visit: Visit, hall: str, window: str) -> tuple[Hall, Window]:
    """The active window ``window`` of hall ``hall``; Refusal malformed if there is none."""
    if HALL.problem(hall) or WINDOW.problem(window):
        raise Refusal("malformed", "not a hall and window code")
    row = visit.session.execute(
        select(Hall, Window)
        .join(Window, Window.hall_id == Hall.id)
        .where(Hall.code == hall, Window.code == window, Window.active.is_(True))
    ).first()
    if row is None:
        raise Refusal("malformed", f"no active window {window} in hall {hall}", hall=hall)
    return row[0], row[1]


def _window_path(hall: Hall, window: Window) -> str:
    return f"/w/{hall.code}/{window.code}"


@router.get("/w/{hall}/{window}", response_class=HTMLResponse)
def get_window_page(request: Request, hall: str, window: str) -> Response:
    visit = Visit(request)
    try:
        hall_row, window_row = _window(visit, hall, window)
        html = window_page(
            hall_row.name or hall_row.code,
            window_row.code,
            window_row.name,
            visit.lang,
            _window_path(hall_row, window_row),
        )
        return HTMLResponse(html, headers=NO_STORE)
    except Refusal as refusal:
        return visit.refused(refusal, "window")
    finally:
        visit.close()


@router.post("/w/{hall}/{window}", response_class=HTMLResponse)
async def post_window(request: Request, hall: str, window: str) -> Response:
    body = await request.body()
    return await run_in_threadpool(_post_window, request, hall, window, body)


def _post_window(request: Request, hall: str, window: str, body: bytes) -> Response:
    visit = Visit(request)
    back: str | None = None
    typed = ""
    try:
        pairs = _form_pairs(request, body)
        visit.set_lang(_lang_of(pairs))
        typed = next((v for k, v in pairs if k == "ticket"), "")
        visit.attempt(f"{hall}:{typed.strip().upper()}"[:80])
        hall_row, window_row = _window(visit, hall, window)
        back = visit.with_lang(_window_path(hall_row, window_row))
        days = working_days(visit.session, visit.policy)
        ticket = window_ticket(
            visit.session,
            visit.policy.online,
            days,
            hall_row.code,
            hall_row.id,
            window_row,
            typed,
            visit.today,
        )
        try:
            link = issue_link(visit.session, visit.settings, visit.policy, days, ticket)
        except ValueError:
            raise Refusal(
                "invalid_form", "ticket number not linkable", hall=hall_row.code
            ) from None
        return RedirectResponse(visit.with_lang(f"/r/{link.token}"), 303, headers=NO_STORE)
    except Refusal as refusal:
        if HALL.problem(hall) is None:
            number = typed.strip() if LINK_NUMBER.match(typed.strip()) else None
            _about(refusal, hall, number, None)
        return visit.refused(refusal, "window", back)
    finally:
        visit.close()


@router.get("/w/{hall}/{window}/qr.{kind}")
def window_qr(request: Request, hall: str, window: str, kind: str) -> Response:
    visit = Visit(request)
    try:
        if kind not in ("svg", "png"):
            raise Refusal("malformed", f"no QR code format {kind!r}")
        hall_row, window_row = _window(visit, hall, window)
        url = f"{visit.settings.public_url}{_window_path(hall_row, window_row)}"
        return _qr(url, kind)
    except Refusal as refusal:
        return visit.refused(refusal, "window")
    finally:
        visit.close()
