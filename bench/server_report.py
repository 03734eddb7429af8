"""Write the server benchmark figures into docs/benchmarks.md, under "## Server" only."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADING = "## Server"


def update_section(subheading: str, body: str) -> None:
    """Replace (or add) ``### subheading`` inside the Server section; other sections stay."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if HEADING not in text.splitlines():
        text = text.rstrip("\n") + f"\n\n{HEADING}\n"
    start = text.index(f"\n{HEADING}\n") + len(HEADING) + 2
    nxt = re.search(r"^## ", text[start:], flags=re.M)
    end = start + nxt.start() if nxt else len(text)
    section = text[start:end]
    block = f"### {subheading}\n\n{body.strip()}\n\n"
    pattern = re.compile(rf"^### {re.escape(subheading)}\n.*?(?=^### |\Z)", flags=re.M | re.S)
    section = (
        pattern.sub(lambda _m: block, section)
        if pattern.search(section)
        else (section.rstrip("\n") + "\n\n" + block if section.strip() else "\n" + block)
    )
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text[:start] + section + text[end:])
