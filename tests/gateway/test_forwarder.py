"""The forwarder against the real server: accepted, rejected-with-reason, retried when down."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gateway.forwarder import Forwarder, ForwardError, backoff_delay
from gateway.journal import Journal
from gateway.metrics import GatewayMetrics
from tests.gateway.conftest import HallServer, gateway_config


def record(key: str, **kw: object) -> dict[str, object]:
    return {
        "key": key,
        "channel": "evaluator",
        "level": "satisfied",
        "occurred_at": "2026-11-23T10:15:00+08:00",
        "time_source": "device",
        "hall": "H1",
        "window": "A03",
        "ticket": "A012",
        "staff": "1001",
        "device": "EV-A03",
        "matter": None,
        "attribution": "attributed",
        "flags": [],
        "source": "gw-H1",
        **kw,
    }


@pytest.mark.timeout(90)
def test_good_records_land_bad_ones_are_marked_rejected(
    tmp_path: Path, hall_server: HallServer
) -> None:
    cfg = gateway_config(tmp_path, "mqtt://127.0.0.1:1", hall_server.url)
    j = Journal(cfg.journal_path)
    with j.transaction():
        j.put_record("EV-A03:b:1", record("EV-A03:b:1"))
        j.put_record("EV-A03:b:2", record("EV-A03:b:2", hall="H9"))
        j.put_record("EV-A03:b:3", record("EV-A03:b:3", flags=["misuse"]))
    m = GatewayMetrics()
    f = Forwarder(cfg, m)
    assert f.forward_once("records") == 3
    assert f.forward_once("records") == 0
    c = j.counts()
    assert (c["records_pending"], c.get("records_forwarded"), c.get("records_rejected")) == (
        0,
        2,
        1,
    )
    reason = j.db.execute("SELECT reason FROM records WHERE state='rejected'").fetchone()[0]
    assert "H9" in reason
    assert m.rejected.labels("records")._value.get() == 1
    # A new revision goes out again and updates the stored row at the server.
    with j.transaction():
        assert j.put_record("EV-A03:b:1", record("EV-A03:b:1", staff="1002")) == 1
    assert f.forward_once("records") == 1
    rows = {r["key"]: r for r in hall_server.evaluations()}
    assert rows["EV-A03:b:1"]["rev"] == 1 and rows["EV-A03:b:1"]["staff"] == "1002"
    assert rows["EV-A03:b:3"]["counted"] == 0
    assert set(rows) == {"EV-A03:b:1", "EV-A03:b:3"}
    j.close()


def test_server_down_or_wrong_key_is_an_error_to_retry(
    tmp_path: Path, hall_server: HallServer
) -> None:
    cfg = gateway_config(
        tmp_path, "mqtt://127.0.0.1:1", hall_server.url, server={"api_key": "wrong-key"}
    )
    j = Journal(cfg.journal_path)
    with j.transaction():
        j.put_record("EV-A03:b:1", record("EV-A03:b:1"))
    with pytest.raises(ForwardError, match="HTTP 401"):
        Forwarder(cfg, GatewayMetrics()).forward_once("records")
    down = gateway_config(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:9")
    with pytest.raises(ForwardError, match="ConnectError"):
        Forwarder(down, GatewayMetrics()).forward_once("records")
    assert j.counts()["records_pending"] == 1
    j.close()


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    d = [backoff_delay(n, 0.5, 60.0, rng) for n in range(12)]
    for n, x in enumerate(d):
        cap = min(60.0, 0.5 * 2**n)
        assert cap / 2 <= x <= cap
    assert max(d) <= 60.0 and d[-1] >= 30.0
