"""The scripted call-back agent: works through its queue on the agent's page (/agent/) in headless
Chromium by keyboard, or through the same HTTP API the page uses (``api``, faster, no browser).

For each entry it reveals the number (audited, as a real agent must), "calls" the citizen with
that number (simulator/callback_citizens.py), and records what the citizen's script says for this
attempt: the level and 差评 reasons of a completed call, or the disposition. A no-answer or busy
line is retried at once in a later pass (an agent may call a scheduled retry early), until the
entry is closed or completed.
"""

from __future__ import annotations

import secrets
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from simulator.callback_citizens import CallCitizen

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MAX_PASSES = 10


@dataclass
class AgentReport:
    username: str
    attempts: int = 0
    reveals: int = 0
    dispositions: Counter[str] = field(default_factory=Counter)
    unknown_numbers: int = 0  # revealed numbers no simulated citizen owns

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.username,
            "attempts": self.attempts,
            "reveals": self.reveals,
            "dispositions": dict(sorted(self.dispositions.items())),
            "unknown_numbers": self.unknown_numbers,
        }


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_problem() -> str | None:
    """Why the browser agent cannot run here, or None."""
    if chromium_path() is None:
        return "Chromium is not installed (Debian: apt-get install chromium fonts-noto-cjk)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    return None


def _attempt_body(citizen: CallCitizen | None, attempt: int) -> dict[str, Any]:
    if citizen is None:
        return {"disposition": "wrong_person", "comment": "号码不属于模拟群众"}
    disposition = citizen.answer(attempt)
    body: dict[str, Any] = {"disposition": disposition}
    if disposition == "completed":
        body["level"] = citizen.level
        if citizen.reasons:
            body["reasons"] = list(citizen.reasons)
        if citizen.comment:
            body["comment"] = citizen.comment
    return body


class ApiAgent:
    """The agent through the API the page uses (queue, reveal, attempts)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.client = httpx.Client(timeout=30.0)
        r = self.client.post(
            f"{self.base}/auth/token", json={"username": username, "password": password}
        )
        r.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        self.report = AgentReport(username)

    def close(self) -> None:
        self.client.close()

    def _ok(self, r: httpx.Response) -> Any:
        if r.status_code >= 400:
            raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}")
        return r.json()

    def work(
        self, lookup: Callable[[str], CallCitizen | None], *, retries: bool = True
    ) -> AgentReport:
        for _ in range(MAX_PASSES if retries else 1):
            items = self._ok(self.client.get(f"{self.base}/callbacks/queue"))["items"]
            if not items:
                return self.report
            for entry in items:
                phone = self._ok(
                    self.client.post(f"{self.base}/callbacks/entries/{entry['id']}/reveal")
                )
                self.report.reveals += 1
                citizen = lookup(phone["phone"])
                if citizen is None:
                    self.report.unknown_numbers += 1
                body = _attempt_body(citizen, entry["attempts"] + 1)
                body["attempt_key"] = secrets.token_hex(16)
                self._ok(
                    self.client.post(
                        f"{self.base}/callbacks/entries/{entry['id']}/attempts", json=body
                    )
                )
                self.report.attempts += 1
                self.report.dispositions[body["disposition"]] += 1
        raise RuntimeError(
            f"agent {self.report.username}: queue not empty after {MAX_PASSES} passes"
        )


def work_queue(
    mode: str,
    base_url: str,
    username: str,
    password: str,
    lookup: Callable[[str], CallCitizen | None],
    retries: bool = True,
) -> AgentReport:
    """One agent works its queue empty: ``mode`` "browser" (the page, by keyboard) or "api"."""
    if mode == "browser":
        from simulator.phone_agent_browser import BrowserAgent

        with BrowserAgent(base_url, username, password) as agent:
            return agent.work(lookup, retries=retries)
    api = ApiAgent(base_url, username, password)
    try:
        return api.work(lookup, retries=retries)
    finally:
        api.close()
