"""Settings for the `hallrate` commands: a bad HALLRATE_* value ends the command with one line
(`hallrate <command>: HALLRATE_<NAME>: <reason>`) and exit code 2, never a traceback."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from pydantic import ValidationError

from server.config import Settings

EXIT_BAD_SETTINGS = 2
# Values of these settings are never echoed (they hold keys or passwords).
_SECRET_PARTS = ("key", "secret", "bootstrap", "password", "database_url")


def describe(exc: ValidationError) -> str:
    """One line naming each bad setting as its environment variable, with the reason."""
    parts = []
    for err in exc.errors():
        loc = err.get("loc") or ()
        field = str(loc[0]) if loc else ""
        reason = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if field and not any(p in field for p in _SECRET_PARTS) and "input" in err:
            value = err["input"]
            if isinstance(value, str | int | float) and len(str(value)) <= 64:
                reason = f"{reason} (got {value!r})"
        parts.append(f"HALLRATE_{field.upper()}: {reason}" if field else reason)
    return " ".join("; ".join(parts).split())


def load_settings(command: str, out: TextIO | None = None, **overrides: Any) -> Settings:
    """Settings from the environment (and ``overrides``); on a bad value print one line to
    ``out`` (default stderr) and exit 2."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        print(f"hallrate {command}: {describe(exc)}", file=out or sys.stderr)
        raise SystemExit(EXIT_BAD_SETTINGS) from None
