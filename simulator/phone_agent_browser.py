"""The scripted call-back agent on the agent's page (/agent/) in headless Chromium, by keyboard
alone (the key map of docs/phone-callbacks.md, "The agent's page")."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from simulator.callback_citizens import CallCitizen
from simulator.phone_agent import CHROMIUM_ARGS, AgentReport, chromium_path

LEVEL_KEYS = {
    "very_satisfied": "1",
    "satisfied": "2",
    "basically_satisfied": "3",
    "dissatisfied": "4",
    "very_dissatisfied": "5",
}
DISPOSITION_KEYS = {
    "completed": "d",
    "no_answer": "n",
    "busy": "b",
    "refused": "r",
    "invalid_number": "x",
    "wrong_person": "w",
    "already_called": "a",
    "other": "o",
}
TIMEOUT_MS = 30_000
MAX_CALLS = 100_000


class BrowserAgent:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.url = base_url.rstrip("/") + "/agent/"
        self.username, self.password = username, password
        self.report = AgentReport(username)
        self.calls: dict[str, int] = {}  # phone -> calls made in this run
        self._pw: Any = None
        self._browser: Any = None
        self.page: Any = None

    def __enter__(self) -> BrowserAgent:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(
            executable_path=chromium_path() or "/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        self.page = self._browser.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._pw is not None:
            self._pw.stop()

    # ---- the page ---------------------------------------------------------------------------

    def sign_in(self) -> None:
        page = self.page
        page.goto(self.url)
        page.wait_for_function("() => document.activeElement.id === 'username'")
        page.keyboard.type(self.username)
        page.keyboard.press("Tab")
        page.keyboard.type(self.password)
        page.keyboard.press("Enter")
        page.wait_for_selector("#desk:not([hidden])")
        self._wait_queue_loaded()

    def _wait_queue_loaded(self) -> None:
        self.page.wait_for_function(
            "() => document.querySelector('#queue li[data-entry]') !== null"
            " || !document.querySelector('#queue-empty').hidden"
        )

    def _entry_open(self) -> bool:
        return bool(self.page.evaluate("() => !document.querySelector('#entry').hidden"))

    def _queue_size(self) -> int:
        return int(self.page.evaluate("() => document.querySelectorAll('#queue li').length"))

    def _refresh(self) -> int:
        page = self.page
        with page.expect_response(lambda r: "/callbacks/queue" in r.url):
            page.keyboard.press("g")
        self._wait_queue_loaded()
        return self._queue_size()

    def _open_first(self) -> None:
        page = self.page
        page.keyboard.press("Escape")  # focus on the queue (or the open entry's title)
        page.evaluate("() => document.querySelector('#queue').focus()")
        with page.expect_response(lambda r: "/callbacks/entries/" in r.url):
            page.keyboard.press("Enter")
        page.wait_for_selector("#entry:not([hidden])")

    def _choose_reasons(self, reasons: tuple[str, ...]) -> None:
        page = self.page
        page.wait_for_selector("#reasons:not([hidden])")
        for reason in reasons:
            page.keyboard.press("c")
            for _ in range(32):
                value = page.evaluate("() => document.activeElement.value")
                if value == reason:
                    break
                page.keyboard.press("Tab")
            else:
                raise RuntimeError(f"差评 reason {reason!r} is not on the page")
            if not page.evaluate("() => document.activeElement.checked"):
                page.keyboard.press("Space")
        page.keyboard.press("Escape")

    def _call(self, lookup: Callable[[str], CallCitizen | None]) -> None:
        """The open entry: reveal, ask the citizen, record the answer, submit."""
        page = self.page
        with page.expect_response(lambda r: r.url.endswith("/reveal")):
            page.keyboard.press("p")
        page.wait_for_selector("#phone-link:not([hidden])")
        phone = "".join(ch for ch in page.inner_text("#phone-link") if ch.isdigit() or ch == "+")
        self.report.reveals += 1
        citizen = lookup(phone)
        self.calls[phone] = self.calls.get(phone, 0) + 1
        if citizen is None:
            self.report.unknown_numbers += 1
            disposition = "wrong_person"
        else:
            disposition = citizen.answer(self.calls[phone])
        if disposition == "completed":
            assert citizen is not None
            page.keyboard.press(LEVEL_KEYS[citizen.level])
            if citizen.reasons:
                self._choose_reasons(citizen.reasons)
            if citizen.comment:
                page.keyboard.press("t")
                page.keyboard.type(citizen.comment)
                page.keyboard.press("Escape")
        page.keyboard.press(DISPOSITION_KEYS[disposition])
        with page.expect_response(
            lambda r: r.url.endswith("/attempts") and r.request.method == "POST"
        ) as info:
            page.keyboard.press("Control+Enter")
        response = info.value
        if response.status >= 400:
            raise RuntimeError(f"attempt refused: {response.status} {response.text()}")
        # The page moves on: the next due entry opens with its number masked, or none is open.
        page.wait_for_function(
            "() => document.querySelector('#entry').hidden"
            " || document.querySelector('#phone-link').hidden"
        )
        self.report.attempts += 1
        self.report.dispositions[disposition] += 1

    def _open_id(self) -> str:
        return str(self.page.evaluate("() => document.querySelector('#entry').dataset.entry"))

    def work(
        self, lookup: Callable[[str], CallCitizen | None], *, retries: bool = True
    ) -> AgentReport:
        """Work the queue empty: the entry the page opens (due ones first), else the first of
        the queue (a rescheduled entry, called early). ``retries=False``: call each entry once
        and leave the rescheduled ones for later."""
        self.sign_in()
        called: set[str] = set()
        for _ in range(MAX_CALLS):
            if not self._entry_open():
                if self._refresh() == 0:
                    return self.report
                self._open_first()
            if not retries and self._open_id() in called:
                return self.report
            called.add(self._open_id())
            self._call(lookup)
        raise RuntimeError(f"agent {self.username}: still calling after {MAX_CALLS} calls")
