"""The lobby screen's routes (docs/lobby.md; access: docs/adr/0022-lobby-screen-access.md):

GET /lobby/{hall}?key=…[&lang=en]   the page, for the hall's screen (no login)
GET /api/v1/lobby/{hall}?key=…      its data as JSON, polled by the page (no login)

No account: the display key in the URL is the hall's. Refusals: 403 without the right key,
404 for an unknown hall (only with the right key) or when ``[lobby] enabled = false``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.deps import PolicyDep, SessionDep, SettingsDep
from server.api.rankings import score_memo
from server.config import Settings
from server.lobby.keys import key_matches
from server.lobby.pages import error_page, lobby_page
from server.lobby.service import lobby_data
from server.lobby.texts import error_text, t
from server.models import Hall
from server.policy import Policy

STATIC_DIR = Path(__file__).parent / "static"
NO_STORE = {"Cache-Control": "no-store"}
api_router = APIRouter(tags=["lobby"])
page_router = APIRouter(include_in_schema=False)

HallCode = Annotated[str, PathParam(max_length=64)]
Key = Annotated[str | None, Query(max_length=64, description="the hall's display key")]


class LobbyRefusal(Exception):
    def __init__(self, status: int, reason: str, hall: str = "") -> None:
        self.status, self.reason, self.hall = status, reason, hall


def register(app: FastAPI) -> None:
    """The page, its static files and the clock (tests may replace it); the JSON route is
    included under /api/v1 by server/app.py."""
    app.state.lobby_clock = lambda: datetime.now(UTC)
    app.mount("/static/lobby", StaticFiles(directory=STATIC_DIR), name="lobby-static")
    app.include_router(page_router)


def _screen(
    request: Request,
    session: Session,
    settings: Settings,
    policy: Policy,
    hall: str,
    key: str | None,
) -> dict[str, Any]:
    """The screen's data, or LobbyRefusal. The key is checked before the hall is looked up,
    so without the key nobody learns which hall codes exist."""
    if not policy.lobby.enabled:
        raise LobbyRefusal(404, "off")
    if not key:
        raise LobbyRefusal(403, "no_key")
    if not key_matches(settings, hall, policy.lobby.key_generation, key):
        raise LobbyRefusal(403, "bad_key")
    row = session.scalars(select(Hall).where(Hall.code == hall)).first()
    if row is None:
        raise LobbyRefusal(404, "unknown_hall", hall)
    now = request.app.state.lobby_clock()
    return lobby_data(session, policy, score_memo(request, policy), row, now)


@api_router.get("/lobby/{hall}", response_class=JSONResponse)
def lobby_json(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    hall: HallCode,
    key: Key = None,
) -> JSONResponse:
    """The lobby screen's data: today's and this quarter's score, today's counted votes, the
    window ranking and, when ``[lobby] show_staff_names``, the staff ranking (docs/lobby.md)."""
    try:
        data = _screen(request, session, settings, policy, hall, key)
    except LobbyRefusal as refusal:
        raise HTTPException(
            refusal.status, error_text(refusal.reason, "en", hall=refusal.hall), headers=NO_STORE
        ) from None
    return JSONResponse(data, headers=NO_STORE)


@page_router.get("/lobby/{hall}", response_class=HTMLResponse)
def lobby_html(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    hall: HallCode,
    key: Key = None,
    lang: Annotated[str | None, Query(max_length=8)] = None,
) -> HTMLResponse:
    language = "en" if lang == "en" else "zh"
    try:
        data = _screen(request, session, settings, policy, hall, key)
    except LobbyRefusal as refusal:
        html = error_page(
            t("error_title", language),
            error_text(refusal.reason, language, hall=refusal.hall),
            language,
        )
        return HTMLResponse(html, status_code=refusal.status, headers=NO_STORE)
    base = f"/lobby/{quote(hall, safe='')}?key={quote(key or '', safe='')}"
    api_url = f"/api/v1{base}"
    switch_url = base if language == "en" else f"{base}&lang=en"
    return HTMLResponse(lobby_page(data, language, api_url, switch_url), headers=NO_STORE)
