"""The case pages' routes (docs/cases.md "Pages") and the users API's handler accounts
(docs/api.md "Admin resources"). The pages themselves run in Chromium:
tests/e2e/test_cases_browser.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.cases.states import ACTION_LABELS, STATE_LABELS
from server.cases.texts import FIELD_TEXT, TEXT
from server.headers import CSP
from tests.server.conftest import ADMIN, Server, serve
from tests.support.migrated import MigratedTemplates


@pytest.fixture
def site(
    sqlite_url: str, migrated_templates: MigratedTemplates, tmp_path: Path
) -> Iterator[Server]:
    """The app on SQLite: the pages store nothing."""
    migrated_templates.migrate(sqlite_url)
    yield from serve(sqlite_url, tmp_path)


def test_every_page_url_serves_the_one_shell_and_nothing_else(site: Server) -> None:
    c = site.client
    r = c.get("/cases", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/cases/"
    shell = c.get("/cases/")
    assert shell.status_code == 200 and shell.headers["content-type"].startswith("text/html")
    assert shell.headers["content-security-policy"] == CSP
    assert shell.headers["cache-control"] == "no-store"
    for path in ("/cases/17", "/cases/new/complaint", "/cases/new/cannot_do"):
        r = c.get(path)
        assert r.status_code == 200 and r.text == shell.text, path
    r = c.get("/cases/new/bad_rating")
    assert r.status_code == 404
    assert r.json()["detail"] == "no form for kind 'bad_rating'; forms: complaint, cannot_do"
    for path in (
        "/cases/abc",
        "/cases/0",
        "/cases/-1",
        "/cases/1e3",
        "/cases/99999999999999999999",
    ):
        assert c.get(path).status_code == 404, path
    # Everything the shell loads is the server's own (no CDN), and is there.
    refs = re.findall(r'(?:src|href)="([^"]+)"', shell.text)
    assets = [ref for ref in refs if ref.startswith("/cases/static/")]
    assert len(assets) == 6
    assert all(ref.startswith(("/", "data:")) for ref in refs), refs
    for ref in assets:
        assert c.get(ref).status_code == 200, ref
    # No inline script or event handler attribute (the CSP would refuse them anyway).
    assert "<script>" not in shell.text and not re.search(r"\son[a-z]+=", shell.text)


def test_the_words_script_carries_the_state_machines_labels(site: Server) -> None:
    r = site.client.get("/cases/static/cases-text.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    head, _, body = r.text.partition("const WORDS = ")
    assert '"use strict";' in head and body.endswith(";\n")
    words = json.loads(body[:-2])
    assert words["states"] == {k: list(v) for k, v in STATE_LABELS.items()}
    assert words["actions"] == {k: list(v) for k, v in ACTION_LABELS.items()}
    assert words["close_at_once"] == ["simple"]  # 当场答复: a 简单 办不成事 closes from 受理
    assert list(words["categories"]) == ["simple", "general", "complex"]
    assert list(words["flags"]) == ["none", "yellow", "red", "escalated"]
    assert words["text"] == {k: list(v) for k, v in TEXT.items()}
    assert words["fields"]["phone_cannot_do"] == list(FIELD_TEXT["phone_cannot_do"])


def _users(server: Server) -> tuple[dict[str, int], dict[str, int]]:
    """Halls H1 and H2, and a department in each: D1 (H1), D9 (H2)."""
    c, h = server.client, server.admin
    h2 = c.post("/api/v1/halls", json={"code": "H2", "name": "二厅"}, headers=h).json()["id"]
    depts = {}
    for code, hall in (("D1", 1), ("D9", h2)):
        r = c.post(
            "/api/v1/departments", json={"hall_id": hall, "code": code, "name": code}, headers=h
        )
        assert r.status_code == 201, r.text
        depts[code] = r.json()["id"]
    return {"H1": 1, "H2": h2}, depts


def test_a_handler_is_bound_to_a_department_of_its_own_hall(server: Server) -> None:
    halls, depts = _users(server)
    c, h = server.client, server.admin
    body = {"username": "hd1", "password": "password1", "role": "handler", "hall_id": halls["H1"]}
    bad = [
        ({"department_id": depts["D9"]}, f"department {depts['D9']} does not exist in this hall"),
        (
            {"role": "viewer", "department_id": depts["D1"]},
            "department_id is only for role handler",
        ),
        ({"hall_id": None}, "a handler needs hall_id"),
    ]
    for change, detail in bad:
        r = c.post("/api/v1/users", json={**body, **change}, headers=h)
        assert r.status_code == 422 and detail in r.text, (change, r.text)
    assert [u["username"] for u in c.get("/api/v1/users", headers=h).json()] == [ADMIN[0]]
    r = c.post("/api/v1/users", json={**body, "department_id": depts["D1"]}, headers=h)
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    assert (r.json()["role"], r.json()["department_id"]) == ("handler", depts["D1"])
    assert server.login("hd1", "password1")  # a handler signs in like any user

    # Moving to H2 needs a department of H2 (or none); then leaving the role drops it.
    r = c.patch(f"/api/v1/users/{uid}", json={"hall_id": halls["H2"]}, headers=h)
    assert r.status_code == 422 and f"department {depts['D1']} does not exist" in r.text
    assert c.get(f"/api/v1/users/{uid}", headers=h).json()["hall_id"] == halls["H1"]
    change = {"hall_id": halls["H2"], "department_id": depts["D9"]}
    r = c.patch(f"/api/v1/users/{uid}", json=change, headers=h)
    assert r.status_code == 200 and r.json()["department_id"] == depts["D9"], r.text
    r = c.patch(f"/api/v1/users/{uid}", json={"role": "viewer"}, headers=h)
    assert r.status_code == 200 and r.json()["department_id"] is None, r.text
    assert c.get(f"/api/v1/users/{uid}", headers=h).json()["department_id"] is None


def test_the_list_search_finds_a_number_by_part_and_a_ticket_exactly(server: Server) -> None:
    c, h = server.client, server.admin
    numbers = {}
    for ticket in ("A017", "A0170", None):
        fields = {"content": "排队太久", **({"ticket": ticket} if ticket else {})}
        r = c.post(
            "/api/v1/cases", json={"hall": "H1", "kind": "complaint", "fields": fields}, headers=h
        )
        assert r.status_code == 201, r.text
        numbers[ticket] = r.json()["number"]

    def found(q: str) -> list[str | None]:
        r = c.get("/api/v1/cases", params={"q": q}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["total"] == len(r.json()["items"])
        return sorted(item["ticket"] or "-" for item in r.json()["items"])

    assert found("A017") == ["A017"]  # a ticket exactly, not A0170
    assert found(numbers[None]) == ["-"]
    assert found(numbers[None][-3:].lower()) == ["-"]  # a part, any case
    assert found("ts") == ["-", "A017", "A0170"]
    assert found("%") == [] and found("_") == []  # no wildcards
    for bad in ("x" * 33, "A0\x0017"):  # too long; a control character (PostgreSQL refuses NUL)
        assert c.get("/api/v1/cases", params={"q": bad}, headers=h).status_code == 422
