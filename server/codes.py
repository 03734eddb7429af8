"""The one pattern of every code, on every path: admin API, gateway ingest and spreadsheet import.

A code names a hall, window, staff member (工号), matter (事项编码), device, department, gateway or
ticket (取号单号). Codes are short ASCII identifiers, never free text: a code such as
``=HYPERLINK("x")`` or ``+1+cmd|' /C calc'!A0`` is refused wherever it arrives and creates nothing.
The window, staff, ticket and matter patterns equal the gateway's wire bounds (firmware/wire.py);
hall and device codes also allow ``:``, as the admin API always did (the gateway's own hall.toml
and MQTT accounts use the narrower ``[A-Za-z0-9_.-]``). docs/api.md lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import Field


@dataclass(frozen=True)
class CodeKind:
    """One kind of code: its name in messages, its maximum length and its allowed characters."""

    name: str
    max_len: int
    chars: str  # the body of a regex character class, e.g. "A-Za-z0-9_.-"

    @property
    def pattern(self) -> str:
        """The anchored pattern, as the OpenAPI document and pydantic ``Field`` use it."""
        return f"^[{self.chars}]+$"

    @property
    def rule(self) -> str:
        """The pattern in words, for error messages: ``1..16 characters of A-Z a-z 0-9 _ . -``."""
        punctuation = " ".join(self.chars.removeprefix("A-Za-z0-9"))
        return f"1..{self.max_len} characters of A-Z a-z 0-9 {punctuation}"

    def problem(self, value: str, label: str | None = None) -> str | None:
        """Why ``value`` is not a code of this kind (named ``label``, default the kind's
        name), or None when it is."""
        if 0 < len(value) <= self.max_len and _REGEX[self.chars].fullmatch(value):
            return None
        return f"{label or self.name} {value!r} must be {self.rule}"

    def field(self, **kwargs: Any) -> Any:
        """A pydantic ``Field`` enforcing this pattern (admin API bodies)."""
        return Field(min_length=1, max_length=self.max_len, pattern=self.pattern, **kwargs)


_NARROW = "A-Za-z0-9_.-"
_WIDE = "A-Za-z0-9_.:-"
_REGEX = {chars: re.compile(f"[{chars}]+") for chars in (_NARROW, _WIDE)}

WINDOW = CodeKind("window", 16, _NARROW)
STAFF = CodeKind("staff", 32, _WIDE)
TICKET = CodeKind("ticket", 32, _WIDE)
MATTER = CodeKind("matter", 64, _WIDE)
DEVICE = CodeKind("device", 32, _WIDE)
HALL = CodeKind("hall", 32, _WIDE)
DEPARTMENT = CodeKind("department", 32, _WIDE)
GATEWAY = CodeKind("gateway", 64, _NARROW)

KINDS: tuple[CodeKind, ...] = (WINDOW, STAFF, TICKET, MATTER, DEVICE, HALL, DEPARTMENT, GATEWAY)
