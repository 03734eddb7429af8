"""Queue events have one shape on every adapter (issue #11, item 7 / report 5).

The HTTP event of docs/gateway.md is accepted as it is on the MQTT queue topic; a refused MQTT
event is answered on hr/v1/{hall}/queue/err; a serial line whose event the validator refuses is
answered with $NAK and the reader carries on.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware import wire, wire_gw
from gateway.app import Gateway
from gateway.journal import Journal
from gateway.metrics import GatewayMetrics
from gateway.pipeline import NullDownlink, Pipeline
from gateway.queue_serial import SerialQueueReader, format_line
from tests.gateway.conftest import HALL, gateway_config, wait_for
from tests.gateway.device_model import WireDevice
from tests.support.brokers import Broker
from tests.support.ports import free_port

pytestmark = pytest.mark.timeout(90)
DOCS = Path(__file__).resolve().parents[2] / "docs"
ERR_TOPIC = f"hr/v1/{HALL}/queue/err"  # as documented in docs/protocol.md


def http_example_event() -> dict[str, Any]:
    """The event of the example in docs/gateway.md "Queue events over HTTP" (no "v", no "k")."""
    text = (DOCS / "gateway.md").read_text(encoding="utf-8")
    section = text.split("## Queue events over HTTP", 1)[1]
    block = section.split("```", 2)[1]
    body = block.split("\n", 2)[2].split("\n→", 1)[0]  # after the POST line, before the answer
    event = json.loads(body)["events"][0]
    assert "v" not in event and "k" not in event
    return dict(event)


# ---- pure: the one normaliser ----------------------------------------------------------------


def test_one_normaliser_defaults_v_and_k_and_refuses_other_kinds() -> None:
    assert wire_gw.queue_err_topic(HALL) == ERR_TOPIC
    ev = http_example_event()
    msg = wire_gw.queue_event_from(ev)
    assert msg == {"v": 1, "k": "queue", **ev}
    assert wire_gw.queue_event_from({"v": 1, "k": "queue", **ev}) == msg
    for bad, reason in (
        ({**ev, "k": "vote"}, "expected a queue event"),
        ({**ev, "v": 2}, "protocol version"),
        ({**ev, "ev": "dance"}, "field ev"),
        ([ev], "not a JSON object"),
    ):
        with pytest.raises(wire.WireError, match=reason):
            wire_gw.queue_event_from(bad)
    payload = json.dumps({k: v for k, v in ev.items() if k != "t"}).encode()
    err = wire_gw.queue_error_for_payload(payload, "field t is missing")
    assert err == {"v": 1, "k": "queue_err", "id": ev["id"], "reason": "field t is missing"}
    assert wire_gw.queue_error_for_payload(b"{", "x")["id"] is None


def test_the_documented_error_message_is_what_the_gateway_builds() -> None:
    """docs/protocol.md's queue_err example (not a wire kind, so not in the wire doc test)."""
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    assert "| `hr/v1/{hall}/queue/err` | `queue_err` | gateway → queue system | 1 | no |" in text
    example = json.loads(text.split("### queue_err", 1)[1].split("```\n", 2)[1].split("```")[0])
    refused = {"id": example["id"], "ev": "dance", "t": 1795424388, "w": "A03"}
    with pytest.raises(wire.WireError) as e:
        wire_gw.queue_event_from(refused)
    assert wire_gw.queue_error(refused, str(e.value)) == example


# ---- MQTT ------------------------------------------------------------------------------------


@pytest.fixture
def gateway(tmp_path: Path, broker: Broker) -> Iterator[Gateway]:
    # No server: forwarding retries in the background; these tests look at the gateway only.
    gw = Gateway(gateway_config(tmp_path, broker.url, f"http://127.0.0.1:{free_port()}"))
    gw.start()
    assert gw.link is not None
    wait_for(gw.link.connected.is_set, 20, "gateway connected")
    yield gw
    gw.stop()


class QueueSystem:
    """An MQTT queue system: publishes on hr/v1/{hall}/queue and reads .../queue/err."""

    def __init__(self, broker: Broker) -> None:
        self.errors: list[tuple[dict[str, Any], bool]] = []
        self.subscribed = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"queue-{free_port()}")
        # Only the error topic: amqtt 0.12.1 has been seen delivering a device's retained status
        # to this subscription (a broker quirk, not a gateway answer).
        self.raw: list[bytes] = []
        c.on_message = lambda _c, _u, m: (
            (self.errors.append((json.loads(m.payload), m.retain)), self.raw.append(m.payload))
            if m.topic == ERR_TOPIC
            else None
        )
        c.on_subscribe = lambda *_a: self.subscribed.set()
        c.connect(broker.host, broker.port)
        c.subscribe(ERR_TOPIC, qos=1)
        c.loop_start()
        wait_for(self.subscribed.is_set, 10, "subscribed to the error topic")
        self.client = c

    def publish(self, payload: bytes) -> None:
        self.client.publish(wire_gw.queue_topic(HALL), payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def queue_event_ids(gw: Gateway) -> set[str]:
    j = Journal(gw.cfg.journal_path)
    try:
        return {r[0] for r in j.db.execute("SELECT id FROM queue_events")}
    finally:
        j.close()


def test_http_shaped_event_on_the_mqtt_queue_topic_is_journaled_and_requests_a_rating(
    gateway: Gateway, broker: Broker
) -> None:
    ev = http_example_event()
    ev["t"] = int(time.time()) - 2  # a finish older than the request ttl asks no rating
    dev = WireDevice(broker.host, broker.port, HALL, f"EV-{ev['w']}")
    qs = QueueSystem(broker)
    try:
        wait_for(dev.connected.is_set, 10, "device connected")
        qs.publish(json.dumps(ev).encode())
        wait_for(lambda: ev["id"] in queue_event_ids(gateway), 20, "the event journaled")
        req = wait_for(lambda: dev.requests and dev.requests[-1], 20, "rating request")
        assert (req["rq"], req["tk"], req["w"]) == (ev["id"], ev["tk"], ev["w"])
        assert qs.errors == []
    finally:
        qs.close()
        dev.close()


def test_refused_mqtt_queue_event_is_answered_on_the_error_topic_logged_and_counted(
    gateway: Gateway, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    now = int(time.time())
    qs = QueueSystem(broker)
    try:
        qs.publish(json.dumps({"id": "bad-1", "ev": "dance", "t": now, "w": "A01"}).encode())
        qs.publish(b"not json")
        qs.publish(json.dumps({"v": 1, "k": "vote", "id": "bad-3", "ev": "pause"}).encode())
        qs.publish(json.dumps({"id": "ok-4", "ev": "pause", "t": now, "w": "A01"}).encode())
        wait_for(lambda: len(qs.errors) >= 3, 20, "three answers on the error topic")
        wait_for(lambda: "ok-4" in queue_event_ids(gateway), 20, "the valid event journaled")
    finally:
        qs.close()
    answers = [e for e, _retained in qs.errors]
    assert [a["id"] for a in answers] == ["bad-1", None, "bad-3"]
    assert all(a["v"] == 1 and a["k"] == "queue_err" and a["reason"] for a in answers)
    assert "field ev" in answers[0]["reason"] and "JSON" in answers[1]["reason"]
    assert not any(retained for _e, retained in qs.errors)
    assert all(r.startswith(b'{"v":1,"k":"queue_err","id":') for r in qs.raw)  # compact JSON
    assert queue_event_ids(gateway) == {"ok-4"}
    metrics = httpx.get(f"http://127.0.0.1:{gateway.cfg.http_port}/metrics").text
    assert 'hallrate_gateway_malformed_total{source="mqtt"} 3.0' in metrics
    logged = [r for r in caplog.records if getattr(r, "event", None) == "queue_event_rejected"]
    assert [getattr(r, "fields", {})["id"] for r in logged] == ["bad-1", None, "bad-3"]


# ---- serial ----------------------------------------------------------------------------------


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    cfg = gateway_config(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    p = Pipeline(cfg, Journal(cfg.journal_path), NullDownlink())
    stop = threading.Event()
    t = threading.Thread(target=p.run, args=(stop,), daemon=True)
    t.start()
    yield p
    stop.set()
    t.join(5)
    p.close()
    p.journal.close()


def test_serial_line_whose_event_the_validator_refuses_gets_nak_and_the_reader_carries_on(
    pipeline: Pipeline,
) -> None:
    """A well-formed line can carry an event the wire validator refuses (a time before 2000):
    it is answered $NAK with the reason; the lines after it are still read and acked."""
    reader = SerialQueueReader("loop://", 9600, pipeline, GatewayMetrics(), ZoneInfo("UTC"))
    reader.open()
    answers: list[str] = []
    reader.write = answers.append  # type: ignore[method-assign]  # record instead of echo
    stop = threading.Event()
    t = threading.Thread(target=reader.run, args=(stop,), daemon=True)
    t.start()
    try:
        assert reader.ser is not None
        reader.ser.write(format_line("PAUSE", "A03", N=1, T="19000101000000").encode())
        reader.ser.write(format_line("RESUME", "A03", N=2, T="20261123100000").encode())
        wait_for(lambda: len(answers) >= 2, 20, "two answers")
        assert t.is_alive()
    finally:
        stop.set()
        t.join(5)
    nak, ack = answers
    assert re.fullmatch(r"\$NAK,field_t_[A-Za-z0-9_.\-]+,N=1\*[0-9A-F]{2}\r\n", nak), nak
    assert ack == format_line("ACK", "2")
    assert reader.lines_bad == 1 and reader.lines_ok == 1


def test_the_mqtt_queue_topic_has_the_wires_nesting_bound() -> None:
    """docs/protocol.md, Bounds: at most 16 [ and { in a payload, the queue topic included."""
    ok = json.dumps({"id": "n-1", "ev": "pause", "t": 1795399500, "w": "A01", "x": "{" * 15})
    wire_gw.decode_for_topic(wire_gw.queue_topic(HALL), ok.encode())
    deep = json.dumps({"id": "n-2", "ev": "pause", "t": 1795399500, "w": "A01", "x": "{" * 16})
    with pytest.raises(wire.WireError, match="16"):
        wire_gw.decode_for_topic(wire_gw.queue_topic(HALL), deep.encode())
