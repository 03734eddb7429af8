"""Helpers for the dashboard's browser tests (docs/dashboard.md "Tests"): sign in on a view's deep
link, screenshots as test artefacts, the phone-width check.

Screenshots go to $HALLRATE_TEST_ARTEFACTS/dashboard/ when that is set (CI keeps the directory),
else to the test's pytest tmp dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.e2e.conftest import ADMIN, ServerProc

ARTEFACTS_ENV = "HALLRATE_TEST_ARTEFACTS"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def artefacts(tmp_path: Path) -> Path:
    root = os.environ.get(ARTEFACTS_ENV)
    path = Path(root) / "dashboard" if root else tmp_path / "artefacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sign_in(page: Any, server: ServerProc, route: str = "") -> None:
    """Open ``/dashboard/<route>`` (e.g. ``#/bad?hall=H1&period=2026-11``) and sign in as the
    e2e admin; the view of the hash opens once signed in."""
    page.goto(f"{server.url}/dashboard/{route}")
    page.fill("input[name=username]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("#login button[type=submit]")
    page.wait_for_selector("#board:not([hidden])")


def page_scroll_width(page: Any) -> int:
    """The page's scroll width: at 390 px nothing may scroll the page sideways (wide tables
    scroll inside their card)."""
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def shoot(page: Any, tmp_path: Path, name: str) -> Path:
    path = artefacts(tmp_path) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
