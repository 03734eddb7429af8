"""Interactive API docs at /docs, with Swagger UI served from a Python package (no CDN).

The Swagger UI files come from the `fastapi-offline` package; the page and its start-up script
are ours, so the page needs no inline script and passes the server's CSP.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

HERE = Path(__file__).parent / "apidocs"


def swagger_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def mount(app: FastAPI) -> None:
    page = (HERE / "index.html").read_text(encoding="utf-8")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs/init.js", include_in_schema=False)
    def init_js() -> FileResponse:
        return FileResponse(HERE / "init.js", media_type="text/javascript")

    app.mount("/docs/swagger", StaticFiles(directory=swagger_dir()), name="swagger")
