"""The dashboard's views in headless Chromium (docs/dashboard.md): 总览 overview, 窗口 windows,
one window, 人员 staff, one staff member; at desktop size and at 390 x 844; the numbers the
charts draw (their data-* attributes) equal the API's; deep links, the back button, the keyboard."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import require_service
from tests.e2e import dashboard_data
from tests.e2e.conftest import ADMIN, HALL, ServerProc
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
Q = f"hall={HALL}&period=2026Q4"
# view -> a selector that appears once its charts are drawn
VIEWS = {
    "overview": "#trend circle.point",
    "windows": "#window-list-chart rect.bar",
    "window/A01": "#window-detail-trend circle.point",
    "staff": "#staff-list-chart rect.bar",
    "staff/1002": "#staff-detail-trend circle.point",
}


def _artefacts(tmp_path: Path) -> Path:
    root = os.environ.get("HALLRATE_TEST_ARTEFACTS")
    path = Path(root) / "dashboard" if root else tmp_path / "artefacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _api(server: ServerProc, path: str, **params: str) -> Any:
    r = httpx.get(
        f"{server.url}/api/v1{path}",
        params={"hall": HALL, **params},
        headers={"Authorization": f"Bearer {server.token()}"},
        timeout=10,
    )
    r.raise_for_status()
    return r.json()


def _open(page: Any, server: ServerProc, hash_: str) -> None:
    """Open a deep link and sign in on its page: the dashboard then shows that view."""
    page.goto(f"{server.url}/dashboard/#/{hash_}")
    page.fill("input[name=username]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("#login button[type=submit]")
    page.wait_for_selector("#board:not([hidden])")


def _go(page: Any, hash_: str) -> None:
    page.evaluate("h => { location.hash = h; }", f"#/{hash_}")


def _marks(page: Any, selector: str) -> list[dict[str, str]]:
    return list(page.eval_on_selector_all(selector, "els => els.map(e => ({...e.dataset}))"))


def _visible_view(page: Any) -> str:
    return str(page.eval_on_selector("section[data-view]:not([hidden])", "s => s.dataset.view"))


@pytest.fixture
def seeded(server: ServerProc) -> ServerProc:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    dashboard_data.seed(server)
    return server


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_each_view_at_desktop_and_phone_size(seeded: ServerProc, tmp_path: Path, size: str) -> None:
    from playwright.sync_api import sync_playwright

    shots = _artefacts(tmp_path)
    viewport = DESKTOP if size == "desktop" else PHONE
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport=viewport)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        _open(page, seeded, f"overview?{Q}")
        # The first view drawn with its data sets the mark the page bench reads (one per load).
        page.wait_for_function(
            "() => performance.getEntriesByName('hallrate:interactive', 'mark').length > 0"
        )
        assert page.locator(VIEWS["overview"]).count() > 0  # drawn before the mark
        marks = page.evaluate(
            "() => performance.getEntriesByName('hallrate:interactive', 'mark')"
            ".map((m) => m.detail.view)"
        )
        assert marks == ["overview"], marks
        for view, ready in VIEWS.items():
            _go(page, f"{view}?{Q}")
            page.wait_for_selector(ready)
            page.wait_for_function(
                "() => document.querySelector('#updated').textContent.startsWith('更新于')"
            )
            assert _visible_view(page) == view.split("/")[0]
            # Every chart: an SVG image with a label, and its data table.
            charts = page.locator("section:not([hidden]) .chart-box")
            assert charts.count() >= 1
            for i in range(charts.count()):
                svg = charts.nth(i).locator(":scope > svg")
                assert svg.get_attribute("role") == "img"
                assert (svg.get_attribute("aria-label") or "").strip()
                assert charts.nth(i).locator("details summary").inner_text() == "数据表"
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], (view, width)
            page.screenshot(
                path=str(shots / f"{view.replace('/', '-')}-{size}.png"), full_page=True
            )
        assert not errors, errors
        browser.close()


def test_chart_marks_equal_the_api(seeded: ServerProc) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport=DESKTOP)
        _open(page, seeded, f"overview?{Q}&grain=week")

        # Trend: one n bar per bucket (its counted_total), one point per score and group rate.
        trend = _api(seeded, "/trends", period="2026Q4", grain="week")
        page.wait_for_function(
            "n => document.querySelectorAll('#trend rect.n-bar').length === n",
            arg=len(trend["buckets"]),
        )
        bars = _marks(page, "#trend rect.n-bar")
        assert [(b["label"], int(b["n"])) for b in bars] == [
            (b["label"], b["counted_total"]) for b in trend["buckets"]
        ]
        expected = {}
        for b in trend["buckets"]:
            if b["score"]["percent"] is not None:
                expected[("score", b["label"])] = (b["score"]["percent"], b["counted_total"])
            for g in b["groups"]:
                if g["has_data"]:
                    expected[(g["name"], b["label"])] = (g["rate"]["percent"], g["total"])
        points = _marks(page, "#trend circle.point")
        assert {(m["series"], m["label"]): (m["value"], int(m["n"])) for m in points} == expected
        assert len(points) == len(expected)
        # Hollow exactly where the sample is below the policy's minimum: a group's point when
        # that group is, the score's when one of the weighted groups is.
        weighted = {g["name"] for g in trend["policy"]["groups"] if g["weight"] != "0/1"}
        hollow = {(m["series"], m["label"]) for m in points if m.get("hollow") == "true"}
        low = {(g["name"], b["label"]) for b in trend["buckets"] for g in b["groups"]
               if g["has_data"] and g["below_min_sample"]}  # fmt: skip
        low |= {("score", b["label"]) for b in trend["buckets"] if b["score"]["percent"] and any(
            g["below_min_sample"] and g["name"] in weighted for g in b["groups"])}  # fmt: skip
        assert hollow == low and low

        # Channel mix: counted evaluations per channel, as /scores.
        score = _api(seeded, "/scores", period="2026Q4")["result"]
        page.wait_for_selector("#mix rect.part")
        mix = {m["channel"]: int(m["value"]) for m in _marks(page, "#mix rect.part")}
        assert mix == {c: v["total"] for c, v in score["channels"].items()}
        assert sum(mix.values()) == score["counted_total"]

        # Heat map: votes per weekday and hour; then the 差评 map (its n: the votes of the cell).
        heat = _api(seeded, "/heatmap", period="2026Q4")
        page.wait_for_function(
            "() => document.querySelectorAll('#heatmap rect.cell').length === 168"
        )
        cells = _marks(page, "#heatmap rect.cell")
        assert len(cells) == 7 * 24
        grid = {(int(c["weekday"]), int(c["hour"])): (int(c["value"]), int(c["n"])) for c in cells}
        for i, day in enumerate(heat["weekdays"]):
            for hour in heat["hours"]:
                assert grid[(day, hour)] == (heat["votes"][i][hour], heat["votes"][i][hour])
        assert heat["total"] == score["counted_total"]
        page.click("#heat-toggle button[data-heat=bad]")
        page.wait_for_function("() => location.hash.includes('heat=bad')")
        page.wait_for_selector("#heatmap svg.heat-chart[data-map=bad]")
        cells = _marks(page, "#heatmap rect.cell")
        grid = {(int(c["weekday"]), int(c["hour"])): (int(c["value"]), int(c["n"])) for c in cells}
        for i, day in enumerate(heat["weekdays"]):
            for hour in heat["hours"]:
                assert grid[(day, hour)] == (heat["bad"][i][hour], heat["votes"][i][hour])
        assert sum(v for v, _ in grid.values()) == heat["bad_total"] > 0

        # Score cards: each card's score and n equal /scores for its period.
        page.wait_for_function("() => document.querySelectorAll('#cards .score-card').length === 3")
        cards = _marks(page, "#cards .score-card")
        assert [c["period"] for c in cards] == ["today", "month", "quarter"]
        for c in cards:
            r = _api(seeded, "/scores", period=c["label"])["result"]
            assert (c["value"], int(c["n"])) == (r["score"]["percent"] or "", r["counted_total"])

        # Windows compared: bar = score, whisker = interval95, n, 样本不足 flag as /rankings.
        _go(page, f"windows?{Q}")
        ranking = _api(seeded, "/rankings", by="window", period="2026Q4")["items"]
        page.wait_for_function(
            "n => document.querySelectorAll('#window-list-chart rect.bar').length === n",
            arg=len(ranking),
        )
        drawn = {m["key"]: m for m in _marks(page, "#window-list-chart rect.bar")}
        for item in ranking:
            m = drawn[item["code"]]
            assert m["value"] == (item["score"]["percent"] or "")
            assert int(m["n"]) == item["counted_total"]
            assert (m.get("low"), m.get("high")) == (
                item["interval95"]["low"], item["interval95"]["high"]
            )  # fmt: skip
            assert (m.get("weak") == "true") == bool(item["below_min_sample"])
        weak = [i["code"] for i in ranking if i["below_min_sample"]]
        flags = page.eval_on_selector_all(
            "#window-list-chart text.bar-value", "ts => ts.map(t => t.textContent)"
        )
        assert "A03" in weak and sum("样本不足" in f for f in flags) == len(weak)
        # The table sorts by a column heading, and the sort is in the URL.
        page.click("#window-list-table button.sort[data-sort=n]")
        page.wait_for_function("() => location.hash.includes('sort=n')")
        page.wait_for_function(
            "() => document.querySelector('#window-list-table tbody tr').dataset.code === 'A03'"
        )

        # One window: its trend equals /trends?window=, its staff equal /rankings?by=staff&window=.
        _go(page, f"window/A01?{Q}&grain=month")
        trend = _api(seeded, "/trends", window="A01", period="2026Q4", grain="month")
        page.wait_for_function(
            "n => document.querySelectorAll('#window-detail-trend rect.n-bar').length === n",
            arg=len(trend["buckets"]),
        )
        scores = {m["label"]: m["value"] for m in _marks(page, "#window-detail-trend circle.point")
                  if m["series"] == "score"}  # fmt: skip
        assert scores == {
            b["label"]: b["score"]["percent"] for b in trend["buckets"] if b["score"]["percent"]
        }
        staff = _api(seeded, "/rankings", by="staff", window="A01", period="2026Q4")["items"]
        page.wait_for_selector("#window-detail-sub tr[data-code]")
        rows = page.eval_on_selector_all(
            "#window-detail-sub tbody tr[data-code]", "rs => rs.map(r => r.dataset.code)"
        )
        assert rows == [i["code"] for i in staff if i["counted_total"] or i["excluded_total"]]
        assert rows == ["1001", "1002"]
        assert page.get_attribute("section[data-view=window] a.bad-link", "href") == (
            f"#/bad?{Q}&window=A01"
        )
        browser.close()


def test_deep_link_filters_and_back_button(seeded: ServerProc) -> None:
    from playwright.sync_api import sync_playwright

    link = f"window/A01?hall={HALL}&period=2026-11&grain=week"
    trend = _api(seeded, "/trends", window="A01", period="2026-11", grain="week")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport=DESKTOP).new_page()  # a fresh page: no session yet
        _open(page, seeded, link)
        page.wait_for_function(
            "n => document.querySelectorAll('#window-detail-trend rect.n-bar').length === n",
            arg=len(trend["buckets"]),
        )
        assert _visible_view(page) == "window"
        assert page.input_value("#period") == "2026-11" and page.input_value("#hall") == HALL
        assert "A01" in page.inner_text("section[data-view=window] .view-title")
        assert (
            page.get_attribute("#window-detail-grain button[data-grain=week]", "aria-pressed")
            == "true"
        )
        labels = [m["label"] for m in _marks(page, "#window-detail-trend rect.n-bar")]
        assert labels == [b["label"] for b in trend["buckets"]] and labels[0].startswith("2026-W")
        assert page.get_attribute("#nav a[data-nav=windows]", "aria-current") == "page"

        # A nav link keeps the filters; back returns to the window, forward to the list.
        page.click("#nav a[data-nav=windows]")
        page.wait_for_selector("#window-list-chart rect.bar")
        assert page.url.endswith(f"#/windows?hall={HALL}&period=2026-11")
        page.go_back()
        page.wait_for_function("() => location.hash.startsWith('#/window/A01')")
        page.wait_for_selector(
            "section[data-view=window]:not([hidden]) #window-detail-trend circle.point"
        )
        assert "grain=week" in page.url and page.input_value("#period") == "2026-11"
        page.go_forward()
        page.wait_for_function("() => location.hash.startsWith('#/windows')")
        assert _visible_view(page) == "windows"

        # The filters write the URL: a new period, same view.
        page.fill("#period", "2026Q4")
        page.dispatch_event("#filters", "change")
        page.wait_for_function("() => location.hash === '#/windows?hall=H1&period=2026Q4'")
        browser.close()


def test_keyboard_reaches_nav_links_and_enter_opens_the_view(seeded: ServerProc) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport=DESKTOP)
        _open(page, seeded, f"overview?{Q}")
        page.wait_for_selector("#trend circle.point")
        page.mouse.move(1, 1)  # the pointer off the charts: only the keyboard reads them
        page.evaluate("document.activeElement.blur()")
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.dataset.nav === 'staff'"):
                break
        else:
            pytest.fail("Tab never reached the 人员 link")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"  # the focus ring is visible
        page.keyboard.press("Enter")
        page.wait_for_selector("#staff-list-chart rect.bar")
        assert _visible_view(page) == "staff"
        assert page.url.endswith(f"#/staff?{Q}")
        # The view's heading has the focus now; the chart can be read with the arrow keys.
        assert page.evaluate("document.activeElement.classList.contains('view-title')")
        page.focus("#staff-list-chart svg.bar-chart")
        assert page.inner_text("#staff-list-chart .tip") == "用方向键逐项读数"
        page.keyboard.press("ArrowRight")
        first = _marks(page, "#staff-list-chart rect.bar")[0]
        tip = page.inner_text("#staff-list-chart .tip")
        assert tip.startswith(first["label"]) and f"n = {first['n']}" in tip
        page.keyboard.press("ArrowRight")
        assert page.inner_text("#staff-list-chart .tip") != tip

        page.click("#lang")  # English: the view and its chart in English
        page.wait_for_function(
            "() => document.querySelector('section[data-view=staff] .view-title').textContent"
            " === 'Staff compared'"
        )
        page.wait_for_selector("#staff-list-chart svg[aria-label^='public satisfaction']")
        assert page.inner_text("#nav a[data-nav=overview]") == "Overview"
        browser.close()


def _contrast(colour: str) -> float:
    """The WCAG contrast ratio of ``#rrggbb`` against white."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def test_controls_keep_the_focus_and_open_tables_after_a_redraw(seeded: ServerProc) -> None:
    """A switch or sort heading pressed with the keyboard keeps the focus when its view is drawn
    again for the new URL; an open data table stays open; the heat map's label names the
    period; in English the notes are joined with "; " and the shares have one decimal."""
    from playwright.sync_api import sync_playwright

    focused = "k => document.activeElement.dataset[k]"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport=DESKTOP)
        _open(page, seeded, f"overview?{Q}")
        page.wait_for_selector("#trend circle.point")
        page.click("#trend details summary")
        page.focus("#grain button[data-grain=week]")
        page.keyboard.press("Enter")
        page.wait_for_selector("#grain button[data-grain=week][aria-pressed=true]")
        page.wait_for_function("() => document.querySelector('#trend rect.n-bar').dataset.label"
                               ".includes('-W')")  # fmt: skip
        assert page.evaluate(focused, "grain") == "week"
        assert page.evaluate("document.querySelector('#trend details').open")
        page.keyboard.press("Tab")  # on to the next button of the switch
        assert page.evaluate(focused, "grain") == "month"
        page.focus("#heat-toggle button[data-heat=bad]")
        page.keyboard.press("Space")
        page.wait_for_selector("#heatmap svg.heat-chart[data-map=bad]")
        assert page.evaluate(focused, "heat") == "bad"
        label = page.get_attribute("#heatmap svg.heat-chart", "aria-label") or ""
        assert "2026Q4" in label and "差评" in label

        _go(page, f"windows?{Q}")
        page.wait_for_selector("#window-list-table button.sort[data-sort=n]")
        page.focus("#window-list-table button.sort[data-sort=n]")
        page.keyboard.press("Enter")
        page.wait_for_function("() => location.hash.includes('sort=n')")
        page.wait_for_selector("#window-list-table th[aria-sort=ascending] button[data-sort=n]")
        assert page.evaluate(focused, "sort") == "n"
        # Bars (the grey of 样本不足 ones too) pass 3:1 against white (docs/dashboard.md "Charts").
        fills = page.eval_on_selector_all(
            "#window-list-chart rect.bar", "rs => rs.map(r => r.getAttribute('fill'))"
        )
        assert "#8a939c" in fills and all(_contrast(f) >= 3 for f in fills), fills

        # The language button is named by its visible text, in the language it names.
        lang_button = (
            "() => [document.querySelector('#lang').textContent, "
            "document.querySelector('#lang').lang, document.querySelector('#lang').ariaLabel]"
        )
        assert page.evaluate(lang_button) == ["English", "en", None]
        page.click("#lang")
        assert page.evaluate(lang_button) == ["中文", "zh-CN", None]
        page.wait_for_function(
            "() => document.querySelector('#window-list-table tr[data-code=A03] td.flag')"
            ".textContent.startsWith('missing channels')"
        )
        notes = page.inner_text("#window-list-table tr[data-code=A03] td.flag")
        assert "; " in notes and "；" not in notes
        _go(page, f"overview?{Q}")
        page.wait_for_selector("#mix rect.part")
        shares = page.eval_on_selector_all(
            "#mix details tbody tr", "rs => rs.map(r => r.cells[2].textContent)"
        )
        assert shares and all(s.endswith("%") and s[-3] == "." for s in shares), shares
        browser.close()
