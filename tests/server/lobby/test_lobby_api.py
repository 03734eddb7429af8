"""The lobby screen's JSON and page (docs/lobby.md): the same numbers as GET /scores and
GET /rankings, the display key, the policy's [lobby] switches, no staff names by default."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.lobby.keys import display_key
from server.policy import PolicyError, policy_from_mapping
from tests.server.conftest import Server, evaluation, serve

TODAY = "2026-11-23"
NOW = datetime(2026, 11, 23, 15, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
STAFF_NAMES = {"1001": "张伟", "1002": "王芳"}


def _records() -> list[dict[str, Any]]:
    """Today and earlier this quarter, three windows, two staff, two on-site channels."""
    out = []
    plan = [  # (window, staff, day, satisfied, dissatisfied)
        ("A01", "1001", TODAY, 5, 1),
        ("A02", "1002", TODAY, 2, 2),
        ("A03", "1001", TODAY, 1, 0),
        ("A01", "1001", "2026-10-09", 30, 3),
        ("A02", "1002", "2026-11-02", 20, 10),
    ]
    for window, staff, day, good, bad in plan:
        for i in range(good + bad):
            out.append(
                evaluation(
                    f"lobby-{window}-{day}-{i}",
                    window=window,
                    staff=staff,
                    device=f"EV-{window}",
                    channel="ballot_box" if i % 3 == 2 else "evaluator",
                    level="satisfied" if i < good else "dissatisfied",
                    occurred_at=f"{day}T10:{i % 60:02d}:00+08:00",
                )
            )
    return out


def _prepare(server: Server) -> None:
    server.client.app.state.lobby_clock = lambda: NOW  # type: ignore[attr-defined]
    server.ingest(_records())
    staff = server.client.get("/api/v1/staff", headers=server.admin).json()
    for row in staff:
        if row["number"] in STAFF_NAMES:
            r = server.client.patch(
                f"/api/v1/staff/{row['id']}",
                json={"name": STAFF_NAMES[row["number"]]},
                headers=server.admin,
            )
            assert r.status_code == 200, r.text


def _key(server: Server, hall: str = "H1", generation: int = 1) -> str:
    return display_key(server.settings, hall, generation)


def _lobby(server: Server, hall: str = "H1", key: str | None = None) -> Any:
    r = server.client.get(f"/api/v1/lobby/{hall}", params={"key": key or _key(server, hall)})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()


def _api(server: Server, path: str, **params: str) -> Any:
    r = server.client.get(f"/api/v1{path}", params=params, headers=server.admin)
    assert r.status_code == 200, r.text
    return r.json()


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def lobby_server(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from serve(migrated_url, tmp_path)


def test_numbers_equal_scores_and_rankings(lobby_server: Server) -> None:
    server = lobby_server
    _prepare(server)
    data = _lobby(server)
    assert data["hall"]["code"] == "H1"
    assert data["as_of"] == "2026-11-23T07:30:00Z"
    assert data["as_of_local"] == "2026-11-23 15:30:00"
    for block, label in (("today", TODAY), ("quarter", "2026Q4")):
        assert data[block]["period"]["label"] == label
        api = _api(server, "/scores", hall="H1", period=label)
        assert data[block]["period"] == api["period"]
        result = api["result"]
        assert data[block]["score"] == {
            "percent": result["score"]["percent"],
            "exact": result["score"]["exact"],
            "basis": result["score"]["basis"],
        }
        assert data[block]["counted_total"] == result["counted_total"]
        assert data[block]["below_min_sample"] == result["below_min_sample"]
        assert data[block]["missing_groups"] == result["missing_groups"]
    assert data["votes_today"] == 11 == data["today"]["counted_total"]
    assert data["quarter"]["counted_total"] == 11 + 33 + 30
    ranking = _api(server, "/rankings", hall="H1", period="2026Q4", by="window")
    assert data["windows"]["period"] == ranking["period"]
    assert data["windows"]["total"] == len(ranking["items"]) == 10  # every window of H1
    expected = [
        {
            "rank": it["rank"],
            "code": it["code"],
            "name": it["name"],
            "score": {"percent": it["score"]["percent"], "exact": it["score"]["exact"]},
            "counted_total": it["counted_total"],
            "below_min_sample": it["below_min_sample"],
        }
        for it in ranking["items"][:10]
    ]
    assert data["windows"]["items"] == expected
    # A03 has one vote this quarter: flagged, as in /rankings.
    a03 = next(it for it in data["windows"]["items"] if it["code"] == "A03")
    assert a03["below_min_sample"] == ["on_site"]
    assert data["min_sample"] == 30 and data["refresh_seconds"] == 30


def test_no_staff_names_or_numbers_by_default(lobby_server: Server) -> None:
    server = lobby_server
    _prepare(server)
    data = _lobby(server)
    assert data["staff"] is None
    r = server.client.get("/lobby/H1", params={"key": _key(server)})
    assert r.status_code == 200
    for text in (str(data), r.text):
        for number, name in STAFF_NAMES.items():
            assert name not in text
            assert number not in text


def test_policy_shows_staff_names_hides_window_names_cuts_rankings(
    migrated_url: str, tmp_path: Path
) -> None:
    policy = _policy(
        tmp_path,
        "[lobby]\nshow_staff_names = true\nshow_window_names = false\nranking_size = 2\n"
        'ranking_period = "month"\nrefresh_seconds = 15\n',
    )
    for server in serve(migrated_url, tmp_path, policy_file=policy):
        _prepare(server)
        data = _lobby(server)
        assert data["refresh_seconds"] == 15
        windows = _api(server, "/rankings", hall="H1", period="2026-11", by="window")
        assert data["windows"]["period"]["label"] == "2026-11"
        assert [(it["code"], it["name"]) for it in data["windows"]["items"]] == [
            (it["code"], None) for it in windows["items"][:2]
        ]
        staff = _api(server, "/rankings", hall="H1", period="2026-11", by="staff")
        assert data["staff"]["items"] == [
            {
                "rank": it["rank"],
                "name": it["name"],
                "score": {"percent": it["score"]["percent"], "exact": it["score"]["exact"]},
                "counted_total": it["counted_total"],
                "below_min_sample": it["below_min_sample"],
            }
            for it in staff["items"][:2]
        ]
        assert {it["name"] for it in data["staff"]["items"]} == set(STAFF_NAMES.values())
        page = server.client.get("/lobby/H1", params={"key": _key(server)}).text
        assert "工作人员满意度排名" in page and "张伟" in page
        assert '<meta http-equiv="refresh" content="15">' in page


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({}, 403, "this lobby screen URL has no display key"),
        ({"key": "x" * 22}, 403, "the display key does not match this hall"),
        ({"key": "short"}, 403, "the display key does not match this hall"),
    ],
)
def test_bad_key_is_refused_with_a_message(
    lobby_server: Server, params: dict[str, str], status: int, detail: str
) -> None:
    server = lobby_server
    r = server.client.get("/api/v1/lobby/H1", params=params)
    assert r.status_code == status
    assert r.json()["detail"].startswith(detail)
    page = server.client.get("/lobby/H1", params=params)
    assert page.status_code == status
    assert "hallrate lobby url --hall" in page.text and "无法显示大屏" in page.text
    en = server.client.get("/lobby/H1", params={**params, "lang": "en"})
    assert detail in en.text


def test_key_is_per_hall_and_unknown_hall_needs_its_key(lobby_server: Server) -> None:
    server = lobby_server
    # H1's key on another hall's URL: refused like any wrong key (no hall existence oracle).
    r = server.client.get("/api/v1/lobby/H2", params={"key": _key(server, "H1")})
    assert r.status_code == 403
    r = server.client.get("/api/v1/lobby/H2", params={"key": _key(server, "H2")})
    assert r.status_code == 404
    assert r.json()["detail"] == "unknown hall 'H2'"
    page = server.client.get("/lobby/H2", params={"key": _key(server, "H2")})
    assert page.status_code == 404 and "没有代码为 H2 的大厅" in page.text
    # Another generation is another key.
    r = server.client.get("/api/v1/lobby/H1", params={"key": _key(server, "H1", 2)})
    assert r.status_code == 403


def test_key_generation_revokes_old_urls(migrated_url: str, tmp_path: Path) -> None:
    policy = _policy(tmp_path, "[lobby]\nkey_generation = 2\n")
    for server in serve(migrated_url, tmp_path, policy_file=policy):
        assert (
            server.client.get("/api/v1/lobby/H1", params={"key": _key(server, "H1", 1)}).status_code
            == 403
        )
        assert (
            server.client.get("/api/v1/lobby/H1", params={"key": _key(server, "H1", 2)}).status_code
            == 200
        )


def test_disabled_lobby_is_404(migrated_url: str, tmp_path: Path) -> None:
    policy = _policy(tmp_path, "[lobby]\nenabled = false\n")
    for server in serve(migrated_url, tmp_path, policy_file=policy):
        r = server.client.get("/api/v1/lobby/H1", params={"key": _key(server)})
        assert r.status_code == 404
        assert r.json()["detail"] == "the lobby screen is off ([lobby] enabled = false)"
        assert server.client.get("/lobby/H1", params={"key": _key(server)}).status_code == 404


def test_page_escapes_names_runs_no_inline_script(lobby_server: Server) -> None:
    server = lobby_server
    halls = server.client.get("/api/v1/halls", headers=server.admin).json()
    hall_id = next(h["id"] for h in halls if h["code"] == "H1")
    evil = '<img src=x onerror="alert(1)">大厅'
    r = server.client.patch(f"/api/v1/halls/{hall_id}", json={"name": evil}, headers=server.admin)
    assert r.status_code == 200, r.text
    server.client.app.state.lobby_clock = lambda: NOW  # type: ignore[attr-defined]
    server.ingest(_records()[:6])
    page = server.client.get("/lobby/H1", params={"key": _key(server)})
    assert page.status_code == 200
    assert evil not in page.text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;大厅" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert scripts == ['<script src="/static/lobby/lobby.js" defer>']
    assert "<script></script>" not in page.text and " on" not in "".join(scripts)
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in page.text
    assert '<html lang="zh-CN">' in page.text and "今日满意度" in page.text
    en = server.client.get("/lobby/H1", params={"key": _key(server), "lang": "en"}).text
    assert '<html lang="en">' in en and "Today&#x27;s satisfaction" in en
    for asset in ("/static/lobby/lobby.js", "/static/lobby/lobby.css"):
        assert server.client.get(asset).status_code == 200


def test_policy_bounds_and_describe() -> None:
    from server.policy import Policy

    assert Policy.default().describe()["lobby"] == {
        "enabled": True,
        "show_staff_names": False,
        "show_window_names": True,
        "refresh_seconds": 30,
        "ranking_size": 10,
        "ranking_period": "quarter",
        "key_generation": 1,
    }
    for bad in (
        {"refresh_seconds": 4},
        {"refresh_seconds": 3601},
        {"ranking_size": 0},
        {"ranking_size": 51},
        {"ranking_period": "year"},
        {"show_staff_names": "yes"},
        {"unknown": 1},
    ):
        with pytest.raises(PolicyError, match="lobby"):
            policy_from_mapping({"lobby": bad})


@pytest.mark.parametrize(
    ("hall", "key", "status"),
    [
        ("H1%00", "é" * 22, 403),
        ("%E2%80%AE1H", "x" * 22, 403),
        ("H" * 65, "x" * 22, 422),
        ("H1", "k" * 65, 422),
    ],
)
def test_odd_input_is_a_clear_4xx(lobby_server: Server, hall: str, key: str, status: int) -> None:
    for path in (f"/api/v1/lobby/{hall}", f"/lobby/{hall}"):
        r = lobby_server.client.get(path, params={"key": key})
        assert r.status_code == status, (path, r.text)
