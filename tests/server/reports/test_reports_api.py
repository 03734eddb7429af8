"""GET /api/v1/reports/{kind}.{format} on SQLite and PostgreSQL: every number of the XLSX and
of the PDF's text equals GET /api/v1/scores and /rankings for the same period; the PDF shows
Chinese glyphs; user text is formula-safe; refusals are 4xx with a message."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from server.models import Evaluation, Staff, Window
from server.models.cases import Case
from server.policy import Policy
from server.scoring import percent_text
from tests.server.callbacks import figures_data as fd
from tests.server.conftest import Server
from tests.server.reports.report_data import INJECTION, LEVELS, STAFF, api, seed
from tests.support.cjk_font import cjk_font
from tests.support.pdf_glyphs import glyph_report, pdf_pages, pdf_text, require_poppler

URL = "/api/v1/reports/{}"


@pytest.fixture
def seeded(server: Server) -> Server:
    seed(server)
    return server


def _get(server: Server, name: str, **params: str) -> bytes:
    r = server.client.get(URL.format(name), params=params, headers=server.admin)
    assert r.status_code == 200, r.text
    return r.content


def _sheet(data: bytes, title: str) -> list[list[Any]]:
    book = load_workbook(io.BytesIO(data))
    return [list(r) for r in book[title].iter_rows(values_only=True)]


def _num(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _pct(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _figures(data: bytes) -> dict[str, Any]:
    return {r[0]: r[1] for r in _sheet(data, "说明") if r[0] is not None and len(r) > 1}


def _ranking_rows(view: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            it["rank"],
            it["hall"],
            it["code"],
            it["name"] or None,
            _pct(it["score"]["percent"]),
            _pct(it["alt_score"]["percent"]),
            it["counted_total"],
            it["excluded_total"],
        ]
        for it in view["items"]
    ]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _pdf_row(cells: list[Any]) -> str:
    return " ".join(str(c) for c in cells if c not in (None, ""))


def test_ranking_numbers_equal_the_api(seeded: Server) -> None:
    scores = api(seeded, "scores", hall="H1", period="2026Q4")
    result = scores["result"]
    data = _get(seeded, "ranking.xlsx", period="2026Q4", hall="H1")
    figures = _figures(data)
    assert _num(figures["群众满意度（%）"]) == _pct(result["score"]["percent"])
    assert _num(figures["参考口径：含基本满意（%）"]) == _pct(result["alt_score"]["percent"])
    assert figures["计入评价数"] == result["counted_total"] > 50
    assert figures["评价政策"] == scores["result"]["policy"]["name"]
    cover = [r[0] for r in _sheet(data, "说明")]
    assert "群众满意度 = 评价器+投票箱满意率×30% + 短信评价满意率×30% + 电话回访满意率×40%" in cover
    groups = _sheet(data, "各评价渠道满意率")[1:]
    assert [[g[3], g[4], _num(g[5]), _num(g[6])] for g in groups] == [
        [
            g["total"],
            g["satisfied"],
            _pct((g["rate"] or {}).get("percent")),
            _pct((g["alt_rate"] or {}).get("percent")),
        ]
        for g in result["groups"]
    ]
    for by, title in (("window", "窗口排名"), ("department", "科室排名")):
        view = api(seeded, "rankings", by=by, hall="H1", period="2026Q4")
        rows = [[*r[:4], _num(r[4]), _num(r[5]), r[6], r[7]] for r in _sheet(data, title)[1:]]
        assert rows[: len(view["items"])] == _ranking_rows(view), by
        assert len(view["items"]) >= 2
    flags = {r[2]: r[9] for r in _sheet(data, "窗口排名")[1:] if r[2]}
    assert flags["A01"] is None and flags["A02"]  # 36 votes vs. the minimum sample of 30

    pdf = _get(seeded, "ranking.pdf", period="2026Q4", hall="H1")
    require_poppler()
    text = _flat(pdf_text(pdf))
    assert f"群众满意度（%） {result['score']['percent']}" in text
    assert f"计入评价数 {result['counted_total']}" in text
    for by in ("window", "department"):
        view = api(seeded, "rankings", by=by, hall="H1", period="2026Q4")
        for it in view["items"]:
            cells = [it["rank"], it["hall"], it["code"], it["name"]]
            cells += [it["score"]["percent"] or "—", it["alt_score"]["percent"] or "—"]
            cells += [it["counted_total"], it["excluded_total"]]
            assert _pdf_row(cells) in text, (by, it["code"])
    assert "评价器+投票箱满意率×30%" in text and "2026年第四季度" in text


def test_ranking_of_every_hall_and_the_year(seeded: Server) -> None:
    data = _get(seeded, "ranking.xlsx", period="2026")
    view = api(seeded, "rankings", by="hall", period="2026")
    rows = [[*r[:4], _num(r[4]), _num(r[5]), r[6], r[7]] for r in _sheet(data, "大厅排名")[1:]]
    assert rows == _ranking_rows(view) and [r[2] for r in rows] == ["H1", "H2"]
    year = api(seeded, "scores", period="2026")["year"]
    figures = _figures(data)
    assert _num(figures["全年成绩：四季度之和（%）"]) == _pct(year["sum"]["percent"])
    assert _num(figures["全年成绩：季度平均（%）"]) == _pct(year["mean"]["percent"])


def test_bad_report_lists_each_bad_rating_with_its_case(seeded: Server) -> None:
    policy: Policy = seeded.client.app.state.policy  # type: ignore[attr-defined]
    scores = api(seeded, "scores", hall="H1", period="2026-11")
    bad = policy.cases.bad_levels
    per_channel = {
        ch: sum(c["counts"][lv] for lv in bad) for ch, c in scores["result"]["channels"].items()
    }
    data = _get(seeded, "bad.xlsx", period="2026-11", hall="H1")
    assert _figures(data)["差评数"] == sum(per_channel.values()) > 3
    chan = {r[0]: r[1] for r in _sheet(data, "各渠道差评数")[1:]}
    assert list(chan.values()) == list(per_channel.values())
    rows = _sheet(data, "差评明细及整改跟踪")[1:]
    assert len(rows) == sum(per_channel.values())
    with seeded.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        numbers = set(
            s.scalars(
                select(Case.number)
                .join(Evaluation, Evaluation.id == Case.evaluation_id)
                .where(
                    Evaluation.local_day >= date(2026, 11, 1),
                    Evaluation.local_day < date(2026, 12, 1),
                )
            )
        )
    assert {r[8] for r in rows} == numbers and len(numbers) == len(rows)
    assert {r[9] for r in rows} <= {"受理", "回访", "办理", "承办", "办结", "退回"}
    assert any(r[7] == "'" + INJECTION for r in rows)  # formula-safe
    assert not any(str(r[7]).startswith("=") for r in rows)
    book = load_workbook(io.BytesIO(data))
    assert all(c.data_type != "f" for row in book["差评明细及整改跟踪"].iter_rows() for c in row)
    require_poppler()
    text = _flat(pdf_text(_get(seeded, "bad.pdf", period="2026-11", hall="H1")))
    assert f"差评数 {sum(per_channel.values())}" in text
    for number in numbers:
        assert number in text


def test_bad_report_names_window_and_staff_without_empty_parts(seeded: Server) -> None:
    # docs/reports.md `bad`: 窗口 code and name, 工作人员 name and 工号; the code alone when the
    # directory has no other name (a staff member without a name, a window named as its code).
    def cells(data: bytes) -> set[tuple[str, str]]:
        return {(r[4], r[5]) for r in _sheet(data, "差评明细及整改跟踪")[1:] if r[4]}

    named = cells(_get(seeded, "bad.xlsx", period="2026Q4", hall="H1"))
    assert ("A02 A02号窗口", "员工A02（1002）") in named
    with seeded.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        s.execute(update(Staff).where(Staff.number == "1002").values(name=""))
        s.execute(update(Window).where(Window.code == "A02").values(name="A02"))
        s.commit()
    bare = cells(_get(seeded, "bad.xlsx", period="2026Q4", hall="H1"))
    assert ("A02", "1002") in bare and not any(
        "（" in staff for _, staff in bare if "1002" in staff
    )


def test_appraisal_numbers_equal_the_api(seeded: Server) -> None:
    policy: Policy = seeded.client.app.state.policy  # type: ignore[attr-defined]
    view = api(seeded, "rankings", by="staff", hall="H1", period="2026Q4")
    data = _get(seeded, "appraisal.xlsx", period="2026Q4", hall="H1")
    rows = {r[1]: r for r in _sheet(data, "工作人员评价结果")[1:] if r[1]}
    assert set(rows) == set(STAFF.values())
    pdf_rows = []
    for it in view["items"]:
        row = rows[it["code"]]
        staff = api(seeded, "scores", hall="H1", staff=it["code"], period="2026Q4")["result"]
        levels = [sum(c["counts"][lv] for c in staff["channels"].values()) for lv in LEVELS]
        sat = sum(c["satisfied"] for c in staff["channels"].values())
        rate = percent_text(Fraction(sat, sum(levels)), policy)
        bad = sum(levels[3:])
        assert row[0] == it["rank"] and row[2] == it["name"]
        assert row[3:8] == levels and row[8] == sum(levels) == staff["counted_total"]
        assert _num(row[9]) == Decimal(rate)
        assert _num(row[10]) == _pct(it["score"]["percent"]) == _pct(staff["score"]["percent"])
        assert row[12] == bad
        pdf_rows.append(
            [it["rank"], it["code"], it["name"], *levels, sum(levels), rate, it["score"]["percent"]]
        )
    assert sum(r[13] for r in rows.values()) == 1 and sum(r[14] for r in rows.values()) == 1
    require_poppler()
    text = _flat(pdf_text(_get(seeded, "appraisal.pdf", period="2026Q4", hall="H1")))
    for cells in pdf_rows:
        assert _pdf_row(cells) in text, cells


def test_pdf_shows_chinese_glyphs(seeded: Server) -> None:
    require_poppler()
    font = cjk_font()
    data = _get(seeded, "ranking.pdf", period="2026Q4", hall="H1")
    assert data.startswith(b"%PDF")
    report = glyph_report(data, font)
    assert report.distinct >= 25, report
    assert report.blank == [] and report.misread == [], report
    assert report.alike > 0.25, report
    assert re.search(r"[\u4e00-\u9fff]", pdf_text(data))


def test_pdf_header_line_once_on_every_page(seeded: Server) -> None:
    # docs/reports.md "PDF": each page repeats the header line (hall, period, generated time,
    # policy) in its top margin, once: not also in the body of the first page.
    require_poppler()
    for name, period in (("ranking.pdf", "2026Q4"), ("bad.pdf", "2026-11")):
        data = _get(seeded, name, period=period, hall="H1")
        pages = pdf_text(data).split("\f")[: pdf_pages(data)]
        assert pages and all(p.count(" · 生成时间 ") == 1 for p in pages), (name, pages)


@pytest.mark.parametrize(
    ("name", "params", "status", "message"),
    [
        ("ranking.csv", {"period": "2026Q4"}, 404, "no report 'ranking.csv'"),
        ("summary.pdf", {"period": "2026Q4"}, 404, "no report 'summary.pdf'"),
        ("ranking.pdf", {}, 400, "give period="),
        ("ranking.pdf", {"period": "2026Q5"}, 400, "2026Q5"),
        ("bad.xlsx", {"period": "2026-11"}, 400, "the bad report is one hall's"),
        ("appraisal.pdf", {"period": "2026Q4"}, 400, "the appraisal report is one hall's"),
        ("ranking.pdf", {"period": "2026Q4", "hall": "NOPE"}, 404, "unknown hall 'NOPE'"),
    ],
)
def test_refusals(
    server: Server, name: str, params: dict[str, str], status: int, message: str
) -> None:
    r = server.client.get(URL.format(name), params=params, headers=server.admin)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


def test_role_scope(server: Server) -> None:
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        fd.hall(s, "H2")
        h1 = fd.hall(s, "H1")
        fd.user(s, "h1viewer", "viewer", h1.id, "h1viewer-password")
        s.commit()
    viewer = server.login("h1viewer", "h1viewer-password")
    r = server.client.get(URL.format("ranking.xlsx"), params={"period": "2026Q4"}, headers=viewer)
    assert r.status_code == 200 and r.headers["content-disposition"].startswith(
        'attachment; filename="ranking-H1-2026Q4.xlsx"'
    )
    r = server.client.get(
        URL.format("ranking.xlsx"), params={"period": "2026Q4", "hall": "H2"}, headers=viewer
    )
    assert r.status_code == 403 and "own hall" in r.json()["detail"]
    assert (
        server.client.get(URL.format("ranking.xlsx"), params={"period": "2026Q4"}).status_code
        == 401
    )
