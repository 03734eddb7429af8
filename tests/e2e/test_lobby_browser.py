"""The lobby screen (大屏) in headless Chromium at 1920x1080: the URL from `hallrate lobby url`,
the numbers of the API, live votes, and a real server restart under the open page.

Screenshots are test artefacts: written to $HALLRATE_TEST_ARTEFACTS/lobby/ when that is set
(CI keeps the directory), else to the test's pytest tmp dir (docs/lobby.md "Tests")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import require_service
from tests.e2e.conftest import GATEWAY_ID, GATEWAY_KEY, HALL, ServerProc, start_server
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM

ARTEFACTS_ENV = "HALLRATE_TEST_ARTEFACTS"


def _artefacts(tmp_path: Path) -> Path:
    root = os.environ.get(ARTEFACTS_ENV)
    path = Path(root) / "lobby" if root else tmp_path / "artefacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _vote(server: ServerProc, i: int, window: str, level: str) -> None:
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
    record = {
        "key": f"lobby-{i}",
        "rev": 0,
        "channel": "evaluator",
        "level": level,
        "occurred_at": now.isoformat(),
        "time_source": "device",
        "hall": HALL,
        "window": window,
        "ticket": None,
        "staff": None,
        "device": None,
        "matter": None,
        "attribution": "attributed",
        "flags": [],
        "source": GATEWAY_ID,
    }
    r = httpx.post(
        f"{server.url}/api/v1/ingest/evaluations",
        json={"gateway": GATEWAY_ID, "records": [record]},
        headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
        timeout=10,
    )
    r.raise_for_status()
    assert not r.json()["rejected"], r.json()


def _lobby_url(server: ServerProc, tmp_path: Path) -> str:
    """The URL as an operator gets it: `hallrate lobby url` on the server's data and database."""
    env = {
        **os.environ,
        "HALLRATE_DATA_DIR": str(tmp_path / "server-data"),
        "HALLRATE_DATABASE_URL": server.database_url,
    }
    argv = [sys.executable, "-m", "server.cli", "lobby", "url", "--hall", HALL]
    out = subprocess.run(
        [*argv, "--base", server.url], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    url = out.stdout.strip()
    assert url.startswith(f"{server.url}/lobby/{HALL}?key=")
    return url


def _text(page: object, selector: str) -> str:
    return str(page.inner_text(selector))  # type: ignore[attr-defined]


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_lobby_screen_shows_the_api_numbers_and_survives_a_restart(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    policy = tmp_path / "policy.toml"
    policy.write_text("[lobby]\nrefresh_seconds = 5\n", encoding="utf-8")
    monkeypatch.setenv("HALLRATE_POLICY_FILE", str(policy))
    server = start_server(tmp_path, sqlite_url)
    port = int(server.url.rsplit(":", 1)[1])
    shots = _artefacts(tmp_path)
    try:
        for i, (window, level) in enumerate(
            [
                ("A01", "satisfied"),
                ("A01", "satisfied"),
                ("A02", "satisfied"),
                ("A02", "dissatisfied"),
            ]
        ):
            _vote(server, i, window, level)
        url = _lobby_url(server, tmp_path)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(url)
            assert page.title().endswith("群众满意度")
            data = httpx.get(url.replace("/lobby/", "/api/v1/lobby/"), timeout=10).json()
            today = server.get("/scores", hall=HALL, period=data["today"]["period"]["label"])
            quarter = server.get("/scores", hall=HALL, period=data["quarter"]["period"]["label"])
            ranking = server.get(
                "/rankings", hall=HALL, period=data["quarter"]["period"]["label"], by="window"
            )
            assert _text(page, "#today-value") == today["result"]["score"]["percent"] + "%"
            assert _text(page, "#quarter-value") == quarter["result"]["score"]["percent"] + "%"
            assert _text(page, "#votes-value") == "4" == str(today["result"]["counted_total"])
            rows = page.locator("#window-rows tr")
            assert rows.count() == len(ranking["items"]) == 3  # A01..A03, A03 without votes
            for n, item in enumerate(ranking["items"]):
                cells = rows.nth(n).locator("td")
                assert cells.nth(0).inner_text() == (str(item["rank"]) if item["rank"] else "—")
                assert cells.nth(1).inner_text().startswith(item["code"])
                score = item["score"]["percent"]
                assert cells.nth(2).inner_text().startswith(f"{score}%" if score else "—")
                assert "样本不足" in cells.nth(2).inner_text() or not item["below_min_sample"]
                assert cells.nth(3).inner_text() == str(item["counted_total"])
            page.screenshot(path=str(shots / "lobby-1920x1080.png"))

            # A vote arrives: the screen follows by itself (every refresh_seconds = 5).
            _vote(server, 4, "A03", "satisfied")
            page.wait_for_function(
                "() => document.getElementById('votes-value').textContent === '5'", timeout=20000
            )
            shown = _text(page, "#today-value")

            # The server goes away: the numbers stay, the page says it is reconnecting.
            server.proc.stop()
            page.wait_for_function(
                "() => document.body.classList.contains('offline')", timeout=20000
            )
            assert _text(page, "#status") == "重新连接中…"
            assert _text(page, "#today-value") == shown
            assert _text(page, "#votes-value") == "5"
            page.screenshot(path=str(shots / "lobby-reconnecting.png"))

            # Back on the same port and database: the page recovers on its own.
            server = start_server(tmp_path, sqlite_url, port=port)
            _vote(server, 5, "A03", "very_satisfied")
            page.wait_for_function(
                "() => document.getElementById('votes-value').textContent === '6'"
                " && !document.body.classList.contains('offline')",
                timeout=30000,
            )
            assert _text(page, "#status") == ""
            page.screenshot(path=str(shots / "lobby-recovered.png"))

            # English, and without script: the numbers are in the page, with a meta refresh.
            plain = browser.new_context(java_script_enabled=False).new_page()
            plain.goto(url + "&lang=en")
            assert _text(plain, "#votes-value") == "6"
            assert "Today's satisfaction" in _text(plain, "#today")
            assert plain.locator("noscript").count() == 1
            browser.close()
        for name in ("lobby-1920x1080.png", "lobby-reconnecting.png", "lobby-recovered.png"):
            assert (shots / name).read_bytes().startswith(b"\x89PNG")
    except Exception:
        print(server.proc.log()[-5000:])
        raise
    finally:
        server.proc.stop()
