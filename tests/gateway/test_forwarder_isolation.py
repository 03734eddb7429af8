"""One record the server (or JSON) cannot take never holds up the others in the forwarder."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from gateway.forwarder import Forwarder
from gateway.journal import Journal
from gateway.metrics import GatewayMetrics
from tests.gateway.conftest import gateway_config
from tests.gateway.test_forwarder import record


class Ingest:
    """A stand-in for the server's ingest API that refuses a whole batch (422) when it holds
    the record keyed "poison", as a strict JSON or schema check would."""

    def __init__(self) -> None:
        self.stored: list[str] = []
        self.posts = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.posts += 1
        body = json.loads(request.content)
        keys = [r["key"] for r in body["records"]]
        if "poison" in keys:
            return httpx.Response(422, json={"detail": "unprocessable record"})
        self.stored += keys
        return httpx.Response(200, json={"accepted": len(keys), "rejected": []})


def forwarder(tmp_path: Path, ingest: Ingest) -> tuple[Forwarder, Journal]:
    cfg = gateway_config(tmp_path, "mqtt://127.0.0.1:1", "http://ingest.test")
    client = httpx.Client(transport=httpx.MockTransport(ingest), base_url="http://ingest.test")
    return Forwarder(cfg, GatewayMetrics(), client=client), Journal(cfg.journal_path)


def test_a_record_refused_with_its_batch_is_isolated_and_rejected(tmp_path: Path) -> None:
    ingest = Ingest()
    f, j = forwarder(tmp_path, ingest)
    keys = [f"EV-A03:b:{i}" for i in range(1, 8)]
    with j.transaction():
        for k in keys[:3]:
            j.put_record(k, record(k))
        j.put_record("poison", record("poison"))
        for k in keys[3:]:
            j.put_record(k, record(k))
    assert f.forward_once("records") == 8
    assert sorted(ingest.stored) == sorted(keys)
    c = j.counts()
    assert (c["records_pending"], c["records_forwarded"], c["records_rejected"]) == (0, 7, 1)
    reason = j.db.execute("SELECT reason FROM records WHERE key='poison'").fetchone()[0]
    assert reason.startswith("HTTP 422")
    assert f.forward_once("records") == 0
    j.close()


def test_a_record_json_cannot_carry_is_rejected_locally(tmp_path: Path) -> None:
    ingest = Ingest()
    f, j = forwarder(tmp_path, ingest)
    with j.transaction():
        j.put_record("EV-A03:b:1", record("EV-A03:b:1"))
        j.put_record("EV-A03:b:2", record("EV-A03:b:2", matter=float("nan")))
    assert f.forward_once("records") == 2
    assert ingest.stored == ["EV-A03:b:1"]
    reason = j.db.execute("SELECT reason FROM records WHERE key='EV-A03:b:2'").fetchone()[0]
    assert "not sendable as JSON" in reason
    j.close()
