"""Charts of the PDF publications as inline SVG, drawn by this small code (no library, no
network): horizontal bars (a score or a count per row) and stacked level bars (the five levels'
counts per row). Every text is XML-escaped; sizes are in points of the A4 page.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

FAMILY = "HallrateCJK"
WIDTH = 480.0
LABEL_W = 130.0
VALUE_W = 60.0
ROW_H = 14.0
BAR = "#2f6db5"
FLAGGED = "#9db8dc"
LEVEL_COLOURS = ("#1b7f3a", "#63b26d", "#c9c9c9", "#e08a3c", "#c0392b")
MAX_ROWS = 40


def _num(value: object) -> float | None:
    if value is None or value == "":
        return None
    return float(Decimal(str(value)))


def _svg(height: float, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH:.0f}pt" height="{height:.0f}pt" '
        f'viewBox="0 0 {WIDTH:.0f} {height:.0f}" font-family="{FAMILY}" font-size="8">'
        + "".join(body)
        + "</svg>"
    )


def _label(text: str, y: float) -> str:
    short = text if len(text) <= 14 else text[:13] + "…"
    return (
        f'<text x="{LABEL_W - 4:.1f}" y="{y + ROW_H * 0.68:.1f}" text-anchor="end">'
        f"{escape(short)}</text>"
    )


def bars(rows: list[tuple[str, object, bool]], percent: bool, flag_text: str = "样本不足") -> str:
    """One bar per (label, value, flagged); a percent scale 0..100 or a count scale 0..max.
    Rows without a value show "—"; flagged rows are pale and marked with ``flag_text``."""
    rows = rows[:MAX_ROWS]
    values = [v for _, raw, _ in rows if (v := _num(raw)) is not None]
    top = 100.0 if percent else max([*values, 1.0])
    span = WIDTH - LABEL_W - VALUE_W
    body = []
    for i, (label, raw, flagged) in enumerate(rows):
        y = 4 + i * ROW_H
        body.append(_label(label, y))
        value = _num(raw)
        if value is None:
            body.append(f'<text x="{LABEL_W + 2:.1f}" y="{y + ROW_H * 0.68:.1f}">—</text>')
            continue
        w = span * max(value, 0.0) / top
        colour = FLAGGED if flagged else BAR
        body.append(
            f'<rect x="{LABEL_W:.1f}" y="{y + 2:.1f}" width="{w:.2f}" '
            f'height="{ROW_H - 4:.1f}" fill="{colour}"/>'
        )
        shown = f"{raw}%" if percent else f"{raw}"
        if flagged:
            shown += f" {flag_text}"
        body.append(
            f'<text x="{LABEL_W + w + 3:.1f}" y="{y + ROW_H * 0.68:.1f}">{escape(shown)}</text>'
        )
    return _svg(8 + len(rows) * ROW_H, body)


def levels(rows: list[tuple[str, list[int]]], legend: list[str]) -> str:
    """One stacked bar per (label, counts of the five levels), scaled to the largest total;
    the legend names the levels in order."""
    rows = rows[:MAX_ROWS]
    top = max([sum(c) for _, c in rows] + [1])
    span = WIDTH - LABEL_W - VALUE_W
    body = []
    x = LABEL_W
    for name, colour in zip(legend, LEVEL_COLOURS, strict=True):
        body.append(f'<rect x="{x:.1f}" y="3" width="8" height="8" fill="{colour}"/>')
        body.append(f'<text x="{x + 10:.1f}" y="10">{escape(name)}</text>')
        x += 14 + 9 * len(name)
    for i, (label, counts) in enumerate(rows):
        y = 16 + i * ROW_H
        body.append(_label(label, y))
        x = LABEL_W
        for n, colour in zip(counts, LEVEL_COLOURS, strict=True):
            w = span * n / top
            if w > 0:
                body.append(
                    f'<rect x="{x:.2f}" y="{y + 2:.1f}" width="{w:.2f}" '
                    f'height="{ROW_H - 4:.1f}" fill="{colour}"/>'
                )
            x += w
        body.append(f'<text x="{x + 3:.1f}" y="{y + ROW_H * 0.68:.1f}">{sum(counts)}</text>')
    return _svg(20 + len(rows) * ROW_H, body)
