"""Issue #12 reports 1 and 9: security headers on every response; /docs without a CDN, and
what is anonymous matches docs/api.md (/health, and /docs + /openapi.json only where enabled)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.config import Settings
from tests.server.conftest import Server

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/",
        "/dashboard/dashboard.js",
        "/agent/",
        "/agent/agent.js",
        "/lobby/H1",
        "/static/lobby/lobby.js",
        "/api/v1/health",
        "/api/v1/halls",
        "/nope",
    ],
)
def test_every_response_has_the_security_headers(server: Server, path: str) -> None:
    r = server.client.get(path)
    for name, value in EXPECTED.items():
        assert r.headers.get(name) == value, (path, name)
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no eval, no other origin
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"


@pytest.mark.parametrize("path", ["/dashboard/", "/agent/"])
def test_pages_have_no_inline_script(server: Server, path: str) -> None:
    page = server.client.get(path).text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers


@pytest.mark.parametrize(
    "path", ["/dashboard/dashboard.js", "/agent/agent.js", "/static/lobby/lobby.js"]
)
def test_page_scripts_build_no_html_from_strings(server: Server, path: str) -> None:
    js = server.client.get(path).text
    assert js.startswith("//")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in js


def test_docs_load_nothing_from_another_origin(server: Server) -> None:
    r = server.client.get("/docs")
    assert r.status_code == 200
    assert not re.search(r"https?://", r.text), r.text
    assert "<script>" not in r.text  # the CSP forbids inline script: only <script src=...>
    for ref in re.findall(r'(?:src|href)="([^"]+)"', r.text):
        if ref.startswith("data:"):
            continue
        assert ref.startswith("/"), ref
        asset = server.client.get(ref)
        assert asset.status_code == 200 and len(asset.content) > 100, ref
    assert server.client.get("/openapi.json").status_code == 200
    assert server.client.get("/redoc").status_code == 404  # ReDoc would load from a CDN


@pytest.fixture
def production(migrated_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        environment="production",
        database_url=migrated_url,
        data_dir=tmp_path,
        secret_key="kX9vQ2mR7tL4wZ8nB3cF6hJ1pS5dG0yE-Uq_aVxNbTr",  # type: ignore[arg-type]
    )
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def test_production_turns_docs_off_and_only_health_is_anonymous(production: TestClient) -> None:
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert production.get(path).status_code == 404, path
    assert production.get("/api/v1/health").status_code == 200
    assert production.get("/api/v1/halls").status_code == 401
    # The lobby screen is no login, but it is not open: without the hall's display key, 403.
    assert production.get("/api/v1/lobby/H1").status_code == 403
    assert production.get("/lobby/H1").status_code == 403
