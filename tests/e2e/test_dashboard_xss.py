"""Issue #12 report 1: hostile hall and window names, stored through the admin API by a hall
admin, show as text in a city admin's dashboard and never run."""

from __future__ import annotations

import shutil

import httpx
import pytest

from tests.conftest import require_service
from tests.e2e.conftest import ADMIN, ServerProc
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM, _ingest, _record

HOSTILE = [
    "<img src=x onerror=window.__pwned=1>",
    "<script>window.__pwned=2</script>",
    '"><svg onload=window.__pwned=3>',
]


def _store_hostile_names(server: ServerProc) -> None:
    h = {"Authorization": f"Bearer {server.token()}"}
    api = f"{server.url}/api/v1"
    halls = httpx.get(f"{api}/halls", headers=h).json()
    hall_id = next(x["id"] for x in halls if x["code"] == "H1")
    r = httpx.patch(f"{api}/halls/{hall_id}", json={"name": HOSTILE[0]}, headers=h)
    assert r.status_code == 200, r.text
    r = httpx.post(f"{api}/halls", json={"code": "H2", "name": HOSTILE[2]}, headers=h)
    assert r.status_code == 201, r.text
    r = httpx.post(
        f"{api}/users",
        json={
            "username": "ha1",
            "password": "hall-admin-pw",
            "role": "hall_admin",
            "hall_id": hall_id,
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    # The hall admin (not the city admin) names the windows.
    tok = httpx.post(
        f"{api}/auth/token", json={"username": "ha1", "password": "hall-admin-pw"}
    ).json()["access_token"]
    ha = {"Authorization": f"Bearer {tok}"}
    # A01 and A02 exist (HALLRATE_BOOTSTRAP_WINDOWS): the hall admin renames them.
    r = httpx.get(f"{api}/windows", headers=ha)
    assert r.status_code == 200, r.text
    ids = {w["code"]: w["id"] for w in r.json() if w["hall_id"] == hall_id}
    for code, name in (("A01", HOSTILE[1]), ("A02", HOSTILE[2])):
        r = httpx.patch(f"{api}/windows/{ids[code]}", json={"name": name}, headers=ha)
        assert r.status_code == 200, r.text


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_hostile_names_show_as_text_and_never_run(server: ServerProc) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    _store_hostile_names(server)
    records = [_record(i, "evaluator", "satisfied") for i in range(2)]
    records[1]["window"] = "A02"
    _ingest(server, records)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/")
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        page.click("#login button[type=submit]")
        page.fill("#period", "2026Q4")
        page.dispatch_event("#filters", "change")
        page.wait_for_function("() => document.querySelectorAll('#ranking tbody tr').length >= 2")

        ranking = page.inner_text("#ranking tbody")
        assert HOSTILE[1] in ranking and HOSTILE[2] in ranking
        options = page.eval_on_selector_all("#hall option", "os => os.map(o => o.textContent)")
        assert f"{HOSTILE[0]} (H1)" in options and f"{HOSTILE[2]} (H2)" in options
        # Nothing ran, and no element came out of the names.
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("#ranking img, #ranking script, #ranking svg").count() == 0
        assert page.locator("#hall img, #hall svg").count() == 0
        # The charts: the comparison's bar labels and data table, one window's heading.
        page.evaluate("location.hash = '#/windows?hall=H1&period=2026Q4'")
        page.wait_for_selector("#window-list-chart rect.bar")
        chart = page.text_content("#window-list-chart svg.bar-chart") or ""
        assert HOSTILE[1][:10] in chart and HOSTILE[2][:10] in chart  # labels are cut to fit
        labels = page.eval_on_selector_all(
            "#window-list-chart rect.bar", "rs => rs.map(r => r.dataset.label)"
        )
        assert sorted(labels) == sorted([f"A01 {HOSTILE[1]}", f"A02 {HOSTILE[2]}", "A03"])
        assert HOSTILE[1] in page.text_content("#window-list-chart table") or ""
        page.evaluate("location.hash = '#/window/A02?hall=H1&period=2026Q4'")
        page.wait_for_function(
            "n => document.querySelector('section[data-view=window] .view-title')"
            ".textContent.includes(n)",
            arg=HOSTILE[2],
        )
        for view in ("windows", "window"):
            inside = [
                f"section[data-view={view}] {tag}" for tag in ("img", "script", "foreignObject")
            ]
            assert page.locator(", ".join(inside)).count() == 0
            assert page.locator(f"section[data-view={view}] svg svg:not(.key-line)").count() == 0
        assert page.evaluate("typeof window.__pwned") == "undefined"
        # Even an injected inline script would be blocked: the CSP forbids it.
        page.evaluate(
            """() => { const s = document.createElement('script');
                       s.textContent = "window.__pwned = 'inline'"; document.head.append(s); }"""
        )
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert not errors, errors
        browser.close()
