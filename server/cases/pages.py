"""The case pages (docs/cases.md "Pages"): staff pages served by the server, like the agent's
page (server/callbacks/pages.py): one static page shell, its scripts and stylesheet from the
package (no CDN, no inline script: the server's CSP applies), talking only to /api/v1/cases with
the user's bearer token. Every value from the API goes into the page as a text node.

GET /cases/                  the case list (filters in the query string)
GET /cases/{id}              one case: fields, deadlines, trail, the allowed actions as forms
GET /cases/new/complaint     the 吐槽找茬 form
GET /cases/new/cannot_do     the 办不成事 受理 form
GET /cases/static/...        the scripts and the stylesheet; cases-text.js is built from
                             server/cases/texts.py and the state machine's labels
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from server.cases import texts

STATIC_DIR = Path(__file__).parent / "static"
# The kinds a person opens by hand; bad_rating cases open themselves (docs/cases.md "States").
NEW_KINDS = ("complaint", "cannot_do")
NO_STORE = {"Cache-Control": "no-store"}
router = APIRouter(include_in_schema=False)


@cache
def _shell() -> str:
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8")


@cache
def _words() -> str:
    return texts.script()


def _page() -> HTMLResponse:
    return HTMLResponse(_shell(), headers=NO_STORE)


@router.get("/cases")
def cases_root() -> RedirectResponse:
    return RedirectResponse("/cases/", status_code=307)


@router.get("/cases/")
def case_list() -> HTMLResponse:
    return _page()


@router.get("/cases/static/cases-text.js")
def words() -> Response:
    return Response(_words(), media_type="text/javascript; charset=utf-8")


@router.get("/cases/new/{kind}")
def new_case(kind: str) -> HTMLResponse:
    if kind not in NEW_KINDS:
        raise HTTPException(404, f"no form for kind {kind!r}; forms: {', '.join(NEW_KINDS)}")
    return _page()


@router.get("/cases/{case_id}")
def case_page(case_id: str) -> HTMLResponse:
    # Only a plain positive number is a case page; anything else is not ours.
    if not case_id.isascii() or not case_id.isdigit() or not 0 < int(case_id) < 2**63:
        raise HTTPException(404, "not found")
    return _page()


def mount(app: FastAPI) -> None:
    """Serve the case pages at /cases/."""
    app.include_router(router)
    app.mount("/cases/static", StaticFiles(directory=STATIC_DIR), name="cases-static")
