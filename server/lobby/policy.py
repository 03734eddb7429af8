"""`[lobby]` of the policy: what the lobby screen (大屏) shows and how often it refreshes.
Configuration, never code: ``describe()`` is part of every score result's policy
(docs/lobby.md "Policy"; docs/policy.example.toml)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class LobbyPolicy(BaseModel):
    """`[lobby]`. The screen never shows personal data (citizens, phone numbers, comments);
    staff names only with ``show_staff_names``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # false: /lobby/… and /api/v1/lobby/… answer 404 for every hall.
    enabled: StrictBool = True
    # true: a second ranking, of staff members by name (工作人员排名); false: no staff at all.
    show_staff_names: StrictBool = False
    # false: windows are shown by code only (e.g. A01), not by their directory name.
    show_window_names: StrictBool = True
    # Seconds between two refreshes of the screen (script polling, or the meta refresh).
    refresh_seconds: int = Field(default=30, ge=5, le=3600)
    # Rows of each ranking shown (the top N, members without a score last).
    ranking_size: int = Field(default=10, ge=1, le=50)
    # The period of the rankings: this quarter (the published ranking), this month or today.
    ranking_period: Literal["quarter", "month", "today"] = "quarter"
    # Part of every display key: raise it to revoke every lobby URL at once (new keys:
    # `hallrate lobby url`), without changing HALLRATE_SECRET_KEY.
    key_generation: int = Field(default=1, ge=1, le=1_000_000)

    def describe(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
