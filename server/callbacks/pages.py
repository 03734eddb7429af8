"""The call-back agent's page (回访员工作台, docs/phone-callbacks.md "The agent's page").

Static files served from the package at /agent/ (no CDN, no inline script: the server's CSP
applies). The page talks only to /api/v1 with the agent's bearer token.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Serve the agent's page at /agent/."""
    app.mount("/agent", StaticFiles(directory=STATIC_DIR, html=True), name="agent")
