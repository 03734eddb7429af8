"""Issue #12 report 6: request bodies are capped per route before they are buffered, deeply
nested JSON is a 4xx, and expensive requests beyond their slots get 503 + Retry-After.

The app is driven at the ASGI level with a body fed chunk by chunk, so a test can count how
much of a 50 MB body the server pulled and whether the route ran at all."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from server import results
from server.api import auth, ingest
from server.app import create_app
from server.limits import json_depth
from tests.server.conftest import ADMIN, GATEWAY_KEY, make_settings

MB50 = 50 * 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    pulled: int = 0  # body bytes the app took from the client
    messages: int = 0  # receive() calls that handed out body

    def json(self) -> Any:
        return orjson.loads(self.body)


class Client:
    """Feeds a body in chunks (like a socket) and records how much of it the app pulled."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = iter(chunks)
        self.pending = next(self.chunks, None)
        self.answer = Answer(0, {}, b"")

    async def receive(self) -> dict[str, Any]:
        chunk = self.pending
        if chunk is None:
            await asyncio.Event().wait()  # the body is complete: nothing until the response
        self.pending = next(self.chunks, None)
        self.answer.pulled += len(chunk or b"")
        self.answer.messages += 1
        return {"type": "http.request", "body": chunk, "more_body": self.pending is not None}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.answer.status = message["status"]
            self.answer.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            self.answer.body += message.get("body", b"")


def _chunks(body: bytes) -> Iterator[bytes]:
    for i in range(0, len(body), CHUNK):
        yield body[i : i + CHUNK]


def _fixed(body: bytes) -> Iterator[bytes]:
    yield body


def _endless_json() -> Iterator[bytes]:
    """50 MB of a JSON login body, generated lazily (never held by the test either)."""
    yield b'{"username": "root", "password": "'
    for _ in range(MB50 // CHUNK):
        yield b"x" * CHUNK
    yield b'"}'


async def _call(
    app: FastAPI,
    method: str,
    path: str,
    chunks: Iterable[bytes],
    headers: dict[str, str] | None = None,
    length: int | None = None,
) -> Answer:
    hdrs = {"content-type": "application/json", **(headers or {})}
    if length is not None:
        hdrs["content-length"] = str(length)
    else:
        hdrs["transfer-encoding"] = "chunked"
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.encode(), v.encode()) for k, v in hdrs.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    client = Client(iter(chunks))
    await app(scope, client.receive, client.send)
    return client.answer


async def _post_json(app: FastAPI, path: str, data: Any, headers: dict[str, str]) -> Answer:
    """POST ``data`` as JSON with its length (GET without a body when ``data`` is None)."""
    if data is None:
        return await _call(app, "GET", path, [b""], headers, 0)
    body = orjson.dumps(data)
    return await _call(app, "POST", path, [body], headers, len(body))


@pytest.fixture
def app(migrated_url: str, tmp_path: Path) -> Iterator[FastAPI]:
    application = create_app(make_settings(migrated_url, tmp_path))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def route_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the login and ingest handlers started their work."""
    calls = {"login": 0, "ingest": 0}
    credentials, check = auth._credentials, ingest.check_evaluations

    async def spy_credentials(request: Any) -> Any:
        calls["login"] += 1
        return await credentials(request)

    def spy_check(*args: Any, **kwargs: Any) -> Any:
        calls["ingest"] += 1
        return check(*args, **kwargs)

    monkeypatch.setattr(auth, "_credentials", spy_credentials)
    monkeypatch.setattr(ingest, "check_evaluations", spy_check)
    return calls


def test_50mb_login_with_content_length_is_413_before_any_body_is_read(
    app: FastAPI, route_calls: dict[str, int]
) -> None:
    answer = asyncio.run(_call(app, "POST", "/api/v1/auth/token", _endless_json(), length=MB50))
    assert answer.status == 413
    assert "at most 16384 bytes" in answer.json()["detail"]
    assert answer.headers["connection"] == "close"
    assert answer.pulled == 0  # not one byte of the body was read
    assert route_calls["login"] == 0


def test_50mb_chunked_login_is_413_after_at_most_the_cap(
    app: FastAPI, route_calls: dict[str, int]
) -> None:
    answer = asyncio.run(_call(app, "POST", "/api/v1/auth/token", _endless_json()))
    assert answer.status == 413
    # The server stopped pulling as soon as the body passed 16 KiB: one 64 KiB chunk after
    # the opening one, of the 800 the client had.
    assert answer.pulled <= 16 * 1024 + 2 * CHUNK
    assert answer.messages <= 2
    assert route_calls["login"] == 0


def test_50mb_ingest_body_is_413(app: FastAPI, route_calls: dict[str, int]) -> None:
    gw = {"authorization": f"Bearer {GATEWAY_KEY}"}

    def body() -> Iterator[bytes]:
        yield b'{"records": ['
        record = orjson.dumps({"key": "k", "rev": 0, "channel": "evaluator"}) + b","
        for _ in range(MB50 // CHUNK):
            yield record * (CHUNK // len(record))
        yield b"{}]}"

    fixed = asyncio.run(_call(app, "POST", "/api/v1/ingest/evaluations", body(), gw, MB50))
    streamed = asyncio.run(_call(app, "POST", "/api/v1/ingest/evaluations", body(), gw))
    for answer in (fixed, streamed):
        assert answer.status == 413, answer.body
        assert f"at most {8 * 1024 * 1024} bytes" in answer.json()["detail"]
        assert answer.pulled <= 8 * 1024 * 1024 + CHUNK
    assert fixed.pulled == 0
    assert route_calls["ingest"] == 0


def test_ingest_under_its_cap_still_works(app: FastAPI) -> None:
    """A batch bigger than the default cap (16 KiB) but within the ingest cap is taken."""
    from tests.server.conftest import evaluation

    records = [evaluation(f"big-{i}") for i in range(200)]
    gw = {"authorization": f"Bearer {GATEWAY_KEY}"}
    answer = asyncio.run(_post_json(app, "/api/v1/ingest/evaluations", {"records": records}, gw))
    assert len(orjson.dumps({"records": records})) > 16 * 1024
    assert answer.status == 200, answer.body
    assert answer.json()["accepted"] == 200


@pytest.mark.parametrize("depth", [33, 1000, 8000])
def test_deeply_nested_json_login_is_400(
    app: FastAPI, route_calls: dict[str, int], depth: int
) -> None:
    body = b'{"username": ' + b"[" * depth + b"]" * depth + b', "password": "x"}'
    answer = asyncio.run(_call(app, "POST", "/api/v1/auth/token", _fixed(body), length=len(body)))
    assert answer.status == 400, answer.body
    assert answer.json()["detail"] == "JSON nested deeper than 32 levels"
    assert route_calls["login"] == 0


def test_deep_json_is_400_on_every_json_route(app: FastAPI) -> None:
    deep: dict[str, Any] = {"name": "x"}
    for _ in range(40):
        deep = {"a": deep}
    gw = {"authorization": f"Bearer {GATEWAY_KEY}"}
    for path in ("/api/v1/ingest/evaluations", "/api/v1/halls", "/api/v1/windows"):
        answer = asyncio.run(_post_json(app, path, deep, gw))
        assert answer.status == 400, (path, answer.body)


def test_nesting_within_the_limit_and_brackets_in_strings_pass(
    app: FastAPI, route_calls: dict[str, int]
) -> None:
    login = {"username": ADMIN[0], "password": ADMIN[1], "note": "[[[[{{{{" * 100}
    answer = asyncio.run(_post_json(app, "/api/v1/auth/token", login, {}))
    assert answer.status == 200, answer.body
    assert route_calls["login"] == 1


def test_json_depth() -> None:
    assert json_depth(b"{}") == 1
    assert json_depth(b'{"a": [1, {"b": "]]]}}}"}]}') == 3
    assert json_depth(b'["\\"[[[", [[]]]') == 3
    assert json_depth(b'"plain"') == 0
    assert json_depth(b"[" * 10_000) == 10_000


def test_scores_beyond_their_slots_are_503_with_retry_after(
    migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(migrated_url, tmp_path)
    settings.max_concurrent_scores = 1
    settings.busy_wait_seconds = 0
    application = create_app(settings)
    release = threading.Event()
    counts = results.counts  # what GET /scores reads the aggregates with (server/results.py)

    def held_counts(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(30)
        return counts(*args, **kwargs)

    monkeypatch.setattr(results, "counts", held_counts)
    entered = threading.Event()

    async def scenario() -> tuple[Answer, Answer, Answer, Answer]:
        login = await _post_json(
            application, "/api/v1/auth/token", {"username": ADMIN[0], "password": ADMIN[1]}, {}
        )
        bearer = {"authorization": "Bearer " + login.json()["access_token"]}
        path = "/api/v1/scores?hall=H1&period=2026Q4"
        first = asyncio.create_task(_post_json(application, path, None, bearer))
        await asyncio.to_thread(entered.wait, 30)  # the first holds the only slot
        second = await _post_json(application, path, None, bearer)
        # A publication counts with the scores: it reads them, then renders a file.
        report = await _post_json(
            application, "/api/v1/reports/ranking.xlsx?hall=H1&period=2026Q4", None, bearer
        )
        release.set()
        third_done = await first
        third = await _post_json(application, path, None, bearer)  # the slot is free again
        return second, report, third_done, third

    try:
        second, report, first, third = asyncio.run(scenario())
    finally:
        release.set()
        application.state.engine.dispose()
    assert second.status == 503, second.body
    assert second.headers["retry-after"] == "1"
    assert "busy" in second.json()["detail"]
    assert report.status == 503, report.body
    assert first.status == 200, first.body
    assert third.status == 200, third.body


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


_text = st.text(alphabet='[]{}"\\ ab\n', max_size=6)
_json = st.recursive(
    st.none() | st.integers(-(2**63), 2**63 - 1) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=30,
)


@given(_json)
def test_json_depth_matches_the_parsed_structure(value: Any) -> None:
    """Strings full of brackets, quotes and backslashes never change the measured depth."""
    assert json_depth(orjson.dumps(value)) == _depth(value)
