"""hall.toml [screens]: whether the gateway renders and sends evaluator screens, the font, and
the language per device (docs/gateway.md, Screens)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.config import ConfigError
from gateway.screens.render import LANGS


@dataclass(frozen=True)
class ScreensConfig:
    enabled: bool = False
    font: str | None = None  # a font file; None: the first of font.FONT_PATHS found
    lang: str = "zh"
    device_lang: dict[str, str] = field(default_factory=dict)

    def lang_of(self, device: str) -> str:
        return self.device_lang.get(device, self.lang)


def parse_screens(
    raw: Mapping[str, Any], devices: Mapping[str, Any] | None = None
) -> ScreensConfig:
    """[screens] of the parsed hall.toml; ConfigError for a bad key or value."""
    s = raw.get("screens", {})
    if not isinstance(s, dict):
        raise ConfigError("[screens] must be a table")
    unknown = set(s) - {"enabled", "font", "lang", "device_lang"}
    if unknown:
        raise ConfigError(f"[screens]: unknown key(s) {', '.join(sorted(unknown))}")
    enabled = s.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError("[screens] enabled must be true or false")
    font = s.get("font")
    if font is not None and (not isinstance(font, str) or not font):
        raise ConfigError("[screens] font must be a file path")
    lang = s.get("lang", "zh")
    per = s.get("device_lang", {})
    if not isinstance(per, dict):
        raise ConfigError("[screens.device_lang] must be a table of device = language")
    for where, v in [("lang", lang)] + [(f"device_lang.{k}", v) for k, v in per.items()]:
        if v not in LANGS:
            raise ConfigError(f"[screens] {where} must be one of {', '.join(LANGS)}, got {v!r}")
    if devices is not None:
        for d in per:
            if d not in devices:
                raise ConfigError(f"[screens.device_lang] {d}: no such device in [devices]")
    return ScreensConfig(enabled, font, lang, {str(k): str(v) for k, v in per.items()})
