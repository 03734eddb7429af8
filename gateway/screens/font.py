"""Which CJK font file the renderer uses: hall.toml [screens] font, else the first of FONT_PATHS
that exists (docs/gateway.md, Screens)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from gateway.config import ConfigError

# Debian/Ubuntu fonts-noto-cjk, then fonts-wqy-microhei / -zenhei, then Fedora's and Arch's paths.
FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)


class FontError(ConfigError):
    """No usable CJK font: the message says which paths were tried and how to fix it."""


def find_font(configured: str | None = None) -> Path:
    """The configured font file (which must exist), else the first of FONT_PATHS."""
    if configured:
        p = Path(configured)
        if not p.is_file():
            raise FontError(f"[screens] font = {configured!r}: no such file")
        return p
    for c in FONT_PATHS:
        if Path(c).is_file():
            return Path(c)
    raise FontError(
        "no CJK font found for the evaluator screens; install fonts-noto-cjk (apt-get install "
        "fonts-noto-cjk) or set [screens] font in hall.toml. Tried: " + ", ".join(FONT_PATHS)
    )


@lru_cache(maxsize=64)
def load(path: str, size: int) -> ImageFont.FreeTypeFont:
    """The face at ``size`` px; in a collection (.ttc), its Simplified Chinese face (the family
    name ends in "SC"), else the first one."""
    index = 0
    if path.endswith(".ttc"):
        for i in range(16):
            try:
                family = ImageFont.truetype(path, size, index=i).getname()[0] or ""
            except OSError:
                break
            if family.endswith(" SC"):
                index = i
                break
    try:
        return ImageFont.truetype(path, size, index=index)
    except OSError as e:
        raise FontError(f"{path}: not a font Pillow can read ({e})") from e
