"""A filled form (server/cases/forms.py) as an A4 PDF in Chinese, with WeasyPrint
(docs/cases.md "Forms and ledger").

- WeasyPrint needs Pango (Debian libpango-1.0-0, libpangoft2-1.0-0); without it, or without a
  font, PdfUnavailable says what to install.
- The CJK font is a file of a Debian package (fonts-noto-cjk, else fonts-wqy-microhei /
  -zenhei: the paths of gateway/screens/font.py), loaded through ``@font-face`` with a
  ``file://`` URL; without one, PdfFontError says what to install. Nothing is downloaded.
- The only URL WeasyPrint may fetch is that font file: any other (http, https, data, another
  file) stops the rendering (NoFetching).
- Every text is HTML-escaped; the page is a bordered table like the printed form, its title
  centred.

Rendering shares one font configuration (the font is loaded once per process), under a lock.
WeasyPrint keeps a copy of the font in a temporary folder for it; the folder is removed when the
process exits.
"""

from __future__ import annotations

import atexit
import html
import shutil
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from gateway.screens.font import FONT_PATHS
from server.cases.forms import FilledForm

FAMILY = "HallrateCJK"


class PdfUnavailable(RuntimeError):
    """The server cannot make PDFs: no CJK font, or WeasyPrint cannot load Pango. The message
    says which Debian packages to install."""


class PdfFontError(PdfUnavailable):
    """No CJK font file: the message names the paths tried and the package to install."""


def _weasyprint() -> Any:
    try:
        import weasyprint
    except OSError as exc:  # Pango / HarfBuzz libraries missing
        raise PdfUnavailable(
            "PDF forms need Pango: install libpango-1.0-0 and libpangoft2-1.0-0 "
            f"(apt-get install libpango-1.0-0 libpangoft2-1.0-0); WeasyPrint: {exc}"
        ) from None
    return weasyprint


def find_cjk_font() -> Path:
    """The first CJK font file of FONT_PATHS that exists."""
    for candidate in FONT_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise PdfFontError(
        "PDF forms need a CJK font: install fonts-noto-cjk (apt-get install fonts-noto-cjk). "
        "Tried: " + ", ".join(FONT_PATHS)
    )


def _fetcher_class() -> Any:
    _weasyprint()
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class NoFetching(URLFetcher):
        """Fetches the font file and refuses every other URL (no network, no other file)."""

        def __init__(self, allowed: frozenset[str]) -> None:
            super().__init__(allowed_protocols=("file",), allow_redirects=False)
            self.allowed = allowed

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url not in self.allowed:
                raise FatalURLFetchingError(f"PDF forms fetch only their font; refused {url!r}")
            return super().fetch(url, headers)

    return NoFetching


def no_fetching(allowed: frozenset[str]) -> Any:
    """A WeasyPrint URL fetcher that fetches exactly the URLs in ``allowed``."""
    return _fetcher_class()(allowed)


CSS_TEMPLATE = """
@font-face { font-family: %(family)s; src: url("%(url)s"); }
@page { size: A4; margin: 22mm 20mm 20mm 20mm; }
html { font-family: %(family)s; font-size: 11pt; color: #000; }
h1 { text-align: center; font-size: 18pt; font-weight: bold; margin: 0 0 6mm 0;
     letter-spacing: 0.5pt; }
.head { margin: 0 0 2mm 0; font-size: 11pt; }
table { width: 100%%; border-collapse: collapse; table-layout: fixed; }
td { border: 0.8pt solid #000; padding: 2.2mm 2mm; vertical-align: middle;
     white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.45; }
td.label { text-align: center; }
td.value { text-align: left; }
td.tall { vertical-align: top; }
td.line { text-align: left; }
"""


_CONFIGS: list[Any] = []


@atexit.register
def _remove_font_copies() -> None:
    """WeasyPrint removes its font folder only when the configuration is collected, which a
    process exit does not promise."""
    for config in _CONFIGS:
        folder = getattr(config, "_folder", None)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


@lru_cache(maxsize=4)
def _styles(font: str) -> tuple[Any, Any, str]:
    """(font configuration, stylesheet, font URL) for a font file: built once."""
    CSS = _weasyprint().CSS
    from weasyprint.text.fonts import FontConfiguration

    url = Path(font).resolve().as_uri()
    config = FontConfiguration()
    _CONFIGS.append(config)
    css = CSS(
        string=CSS_TEMPLATE % {"family": FAMILY, "url": url},
        font_config=config,
        url_fetcher=no_fetching(frozenset({url})),
    )
    return config, css, url


_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _extra(font: str, extra_css: str) -> Any:
    """Another stylesheet on top of the forms' one (the publications', server/reports/pdf.py),
    sharing its font configuration: built once per text."""
    config, _, url = _styles(font)
    return _weasyprint().CSS(
        string=extra_css, font_config=config, url_fetcher=no_fetching(frozenset({url}))
    )


def html_to_pdf(document: str, font: Path | None = None, extra_css: str = "") -> bytes:
    """Render an HTML document with the forms' stylesheet and font (and no other fetch);
    ``extra_css`` (fixed text, e.g. the reports' layout) applies after the forms' stylesheet,
    and may use the font family ``FAMILY``."""
    HTML = _weasyprint().HTML
    font = font or find_cjk_font()
    with _LOCK:
        config, css, url = _styles(str(font))
        sheets = [css, _extra(str(font), extra_css)] if extra_css else [css]
        page = HTML(string=document, url_fetcher=no_fetching(frozenset({url})))
        data: bytes = page.write_pdf(stylesheets=sheets, font_config=config)
    return data


def _cell(text: str) -> str:
    return html.escape(text, quote=True)


def _label(text: str) -> str:
    """A label cell's text; a quoted name before the rest ("“办不成事”情况记录") keeps to its
    own line, as the seeds print it."""
    head, quote, rest = text.partition("”")
    if text.startswith("“") and quote and rest:
        return f"{_cell(head + quote)}<br>{_cell(rest)}"
    return _cell(text)


def form_html(filled: FilledForm) -> str:
    """The page: title, the header fields (编号) and the table, every text escaped."""
    form = filled.form
    out = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{_cell(form.title)} {_cell(filled.number)}</title></head><body>",
        f"<h1>{_cell(form.title)}</h1>",
    ]
    for field, text in filled.header:
        out.append(f'<p class="head">{_cell(field.label)}：{_cell(text)}</p>')
    out.append(
        '<table><colgroup><col style="width: 21%"><col style="width: 29%">'
        '<col style="width: 21%"><col style="width: 29%"></colgroup>'
    )
    for row in filled.rows:
        out.append("<tr>")
        for field, text in row:
            height = f' style="height: {field.lines * 7.5 + 4:.1f}mm"' if field.lines > 1 else ""
            if field.span == "line":
                out.append(
                    f'<td class="line" colspan="4"{height}>{_cell(field.label)}：{_cell(text)}</td>'
                )
                continue
            span = ' colspan="3"' if field.span == "full" else ""
            out.append(f'<td class="label"{height}>{_label(field.label)}</td>')
            kind = "value tall" if field.lines > 1 else "value"
            out.append(f'<td class="{kind}"{span}>{_cell(text)}</td>')
        out.append("</tr>")
    out.append("</table></body></html>")
    return "".join(out)


def form_pdf(filled: FilledForm, font: Path | None = None) -> bytes:
    """The filled form as PDF bytes (PdfUnavailable without a CJK font or Pango)."""
    return html_to_pdf(form_html(filled), font)
