"""The forms as PDF (server/cases/pdf.py): read back with poppler-utils, each one holds exactly
the seed's fields in the seed's order with the case's values, in an embedded CJK font whose
glyphs, rendered to PNG by pdftoppm, are the characters' own and not boxes (tofu); text is
escaped; the renderer fetches nothing but its font. Needs fonts-noto-cjk and poppler-utils:
skipped locally with the reason when absent, a failure in CI."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest

from server.cases import forms, pdf
from server.cases.policy import CasePolicy
from server.models.cases import Case
from tests.server.cases.forms_data import MASKED, SEED_FORMS, SEED_TITLES, case_values
from tests.support.cjk_font import cjk_font
from tests.support.pdf_glyphs import (
    glyph_report,
    pdf_fonts,
    pdf_pages,
    pdf_text,
    require_poppler,
    tofu_font,
)

CN = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[3]
KIND = {"chengban": "complaint", "shouli": "cannot_do", "zhuanban": "cannot_do"}
MARKUP = "<b>不是粗体</b> & <script>alert(1)</script>"


@pytest.fixture(scope="module")
def font() -> str:
    require_poppler()
    return cjk_font()


def _filled(code: str, **fields: object) -> forms.FilledForm:
    fields.setdefault("content", "外省身份证无法识别。" + MARKUP)
    values = case_values(KIND[code], **fields)
    values.pop("phone")
    case = Case(number="BC202600017", kind=KIND[code], **values)
    ctx = forms.FormContext(CasePolicy(), CN, assignee="区市场监督管理局", phone=MASKED)
    return forms.fill(forms.FORMS[code], case, ctx)


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(scope="module")
def rendered(font: str) -> dict[str, tuple[forms.FilledForm, bytes]]:
    out = {}
    for code in forms.FORMS:
        filled = _filled(code)
        out[code] = (filled, pdf.form_pdf(filled, Path(font)))
    return out


@pytest.mark.parametrize("code", ["chengban", "shouli", "zhuanban"])
def test_the_pdf_holds_exactly_the_seeds_fields_in_order_with_the_values(
    code: str, rendered: dict[str, tuple[forms.FilledForm, bytes]]
) -> None:
    """The page's text, in the order it was laid out, is the title, then each field's label
    and value in the seed's order, and nothing else (whitespace aside)."""
    filled, data = rendered[code]
    assert data.startswith(b"%PDF-") and pdf_pages(data) == 1
    pairs = filled.pairs()
    assert [label for label, _ in pairs] == SEED_FORMS[code]  # forms.py drives the page
    assert all(text.strip() for _, text in pairs), "the sample case fills every field"
    expected = SEED_TITLES[code] + "".join(label + text for label, text in pairs)
    assert _squash(pdf_text(data)) == _squash(expected.replace("编号", "编号：", 1)).replace(
        "结果反馈区政务服务中心时间", "结果反馈区政务服务中心时间："
    )
    assert MARKUP in pdf_text(data)  # escaped: shown as typed, not taken as markup


def test_text_order_check_would_catch_a_swapped_field(
    rendered: dict[str, tuple[forms.FilledForm, bytes]],
) -> None:
    """The comparison above is strict: the same page against the fields with two swapped
    does not match."""
    filled, data = rendered["chengban"]
    pairs = filled.pairs()
    pairs[0], pairs[1] = pairs[1], pairs[0]
    swapped = SEED_TITLES["chengban"] + "".join(label + text for label, text in pairs)
    assert _squash(pdf_text(data)) != _squash(swapped)


@pytest.mark.parametrize("code", ["chengban", "shouli", "zhuanban"])
def test_chinese_glyphs_are_real_not_tofu(
    code: str, font: str, rendered: dict[str, tuple[forms.FilledForm, bytes]], tmp_path: Path
) -> None:
    """pdffonts: the CJK font is embedded. pdftoppm: every Chinese character of the page,
    cut from the PNG, looks like that character drawn from the font file by Pillow, and
    unlike the others."""
    _, data = rendered[code]
    (tmp_path / "form.pdf").write_bytes(data)
    fonts = pdf_fonts(tmp_path / "form.pdf")
    assert fonts and all(f["emb"] == "yes" for f in fonts), fonts
    assert {f["name"].split("+", 1)[-1] for f in fonts} <= {pdf.FAMILY, pdf.FAMILY + "-Bold"}
    report = glyph_report(data, font)
    assert report.distinct >= 25, report
    assert report.blank == [] and report.misread == [], report
    assert report.alike > 0.25, report  # different characters look different


def test_the_glyph_check_fails_on_a_page_of_tofu(tmp_path: Path, font: str) -> None:
    """The same form rendered where the only font has no Chinese glyphs (a fontconfig that
    knows only a box font): the text still extracts, the check above finds boxes."""
    tofu, conf = tofu_font(tmp_path)
    out = tmp_path / "tofu.pdf"
    script = (
        "import sys; from pathlib import Path\n"
        "from server.cases import pdf\n"
        "Path(sys.argv[1]).write_bytes(pdf.html_to_pdf(sys.argv[2], Path(sys.argv[3])))\n"
    )
    html = pdf.form_html(_filled("shouli"))
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-c", script, str(out), html, str(tofu)], env=env, check=True, cwd=ROOT
    )
    data = out.read_bytes()
    assert "反映人姓名" in pdf_text(data)  # extractable text proves nothing about glyphs
    report = glyph_report(data, font)
    assert report.blank or report.misread, report


def test_the_fonts_temporary_copy_is_removed_at_exit(tmp_path: Path, font: str) -> None:
    """A process that rendered forms leaves no copy of the 20 MB font behind."""
    script = (
        "from server.cases import forms, pdf\n"
        "from tests.server.cases.test_forms_pdf import _filled\n"
        "pdf.form_pdf(_filled('shouli'))\n"
        "import glob, os, tempfile\n"
        "assert glob.glob(os.path.join(tempfile.gettempdir(), 'weasyprint-*'))\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, cwd=ROOT)
    assert list(tmp_path.glob("weasyprint-*")) == []


def test_a_long_record_flows_onto_more_pages(font: str) -> None:
    long = "群众反映事项" * 600  # 3600 characters, the content field's bound is 4000
    filled = _filled("shouli", content=long)
    data = pdf.form_pdf(filled, Path(font))
    assert pdf_pages(data) >= 2
    assert _squash(long) in _squash(pdf_text(data))


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Counting.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { color: red }")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Counting.hits = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "tag",
    [
        '<link rel="stylesheet" href="{web}/style.css">',
        '<img src="{web}/logo.png">',
        '<img src="file:///etc/hostname">',
        '<img src="data:image/png;base64,iVBORw0KGgo=">',
    ],
)
def test_the_renderer_fetches_nothing_but_its_font(font: str, web: str, tag: str) -> None:
    from weasyprint.urls import FatalURLFetchingError

    page = f"<html><head>{tag.format(web=web)}</head><body>承办单</body></html>"
    with pytest.raises(FatalURLFetchingError, match="PDF forms fetch only their font"):
        pdf.html_to_pdf(page, Path(font))
    assert _Counting.hits == []


def test_no_cjk_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf, "FONT_PATHS", ("/nonexistent/NotoSansCJK-Regular.ttc",))
    with pytest.raises(pdf.PdfFontError) as e:
        pdf.find_cjk_font()
    assert str(e.value) == (
        "PDF forms need a CJK font: install fonts-noto-cjk (apt-get install fonts-noto-cjk). "
        "Tried: /nonexistent/NotoSansCJK-Regular.ttc"
    )
