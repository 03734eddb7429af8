"""Python device models against a real broker, with a paho client playing the gateway's part:
retained status and last will, votes, end-to-end ack, resend requests and "gone", power loss."""

from __future__ import annotations

import asyncio
import json
import queue
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware import wire, wire_gw
from simulator.device_models import DeviceModel, Fleet, Outbox
from tests.support.brokers import Broker

HALL = "H1"


class FakeGateway:
    """Subscribes to the hall's uplink; publishes downlink messages."""

    def __init__(self, broker: Broker) -> None:
        self.msgs: queue.Queue[tuple[str, dict[str, object]]] = queue.Queue()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fake-gw")
        self.c.on_message = self._on_message
        self.c.connect(broker.host, broker.port)
        for topic, qos in wire_gw.device_subscription(HALL, "up"):
            self.c.subscribe(topic, qos)
        self.c.loop_start()

    def _on_message(self, _c: object, _u: object, m: mqtt.MQTTMessage) -> None:
        self.msgs.put((m.topic, json.loads(m.payload)))

    def publish(self, device: str, channel: str, msg: dict[str, object]) -> None:
        qos, retain = wire_gw.qos_retain(channel)
        self.c.publish(wire.device_topic(HALL, device, channel), wire.encode(msg), qos, retain)

    async def next(
        self, kind: str, timeout: float = 10.0, pred=lambda m: True
    ) -> dict[str, object]:  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                _t, m = self.msgs.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.02)
                continue
            if m.get("k") == kind and pred(m):
                return m
        raise TimeoutError(f"no {kind} message")

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def gw(amqtt: Broker) -> Iterator[FakeGateway]:
    g = FakeGateway(amqtt)
    yield g
    g.close()


async def _fleet(broker: Broker, *models: DeviceModel) -> Fleet:
    fleet = Fleet(broker.host, broker.port)
    for m in models:
        fleet.add(m)
    fleet.start()
    await fleet.wait_connected(10)
    return fleet


@pytest.mark.timeout(60)
def test_vote_ack_and_will(amqtt: Broker, gw: FakeGateway) -> None:
    async def scenario() -> None:
        ev = DeviceModel(HALL, "EV-A01", "evaluator", resend_s=0.5)
        fleet = await _fleet(amqtt, ev)
        online = await gw.next("status", pred=lambda m: m["st"] == "online")
        assert online["d"] == "EV-A01" and online["dk"] == "evaluator"
        gw.publish("EV-A01", "cfg", wire_gw.config("EV-A01", 1, "A01", wire.LEVELS, 60))
        gw.publish(
            "EV-A01", "req", wire_gw.rating_request("EV-A01", "q-1", "A001", "A01", None, 60)
        )
        assert await ev.wait_request("tk:A001", 5)
        ev.press("satisfied")
        vote = await gw.next("vote")
        assert (vote["lv"], vote["rq"], vote["tk"], vote["s"]) == ("satisfied", "q-1", "A001", 1)
        assert "fl" not in vote
        ev.press("dissatisfied")
        again = await gw.next("vote", pred=lambda m: m["s"] == 2)
        assert again["fl"] == ["misuse"]
        # Unacked: resent on the timer with rs=true.
        resent = await gw.next("vote", pred=lambda m: m.get("rs") is True)
        assert resent["s"] in (1, 2)
        gw.publish("EV-A01", "ack", wire_gw.ack("EV-A01", ev.boot, 2))
        for _ in range(100):
            if len(ev.outbox) == 0:
                break
            await asyncio.sleep(0.05)
        assert len(ev.outbox) == 0
        ev.conn.abort()  # type: ignore[union-attr]
        will = await gw.next("status", pred=lambda m: m["st"] == "offline")
        assert will["d"] == "EV-A01"
        await fleet.close()

    asyncio.run(scenario())


@pytest.mark.timeout(60)
def test_resend_request_and_gone(amqtt: Broker, gw: FakeGateway) -> None:
    async def scenario() -> None:
        bb = DeviceModel(HALL, "BB-01", "ballot_box", resend_s=60)
        fleet = await _fleet(amqtt, bb)
        for slot in (0, 1, 2):
            bb.drop(slot, f"A00{slot}")
        for _ in range(3):
            await gw.next("drop")
        gw.publish("BB-01", "ack", wire_gw.ack("BB-01", bb.boot, 1, [3]))
        await asyncio.sleep(0.3)
        gw.publish("BB-01", "resend", wire_gw.resend("BB-01", bb.boot, 1, 2))
        resent = await gw.next("drop", pred=lambda m: m.get("rs") is True)
        assert resent["s"] == 2 and resent["tk"] == "A001"
        gone = await gw.next("gone")
        assert (gone["from"], gone["to"]) == (1, 1)
        await fleet.close()

    asyncio.run(scenario())


@pytest.mark.timeout(60)
def test_power_loss_keeps_outbox(amqtt: Broker, gw: FakeGateway, tmp_path: Path) -> None:
    async def scenario() -> None:
        ev = DeviceModel(
            HALL, "EV-A02", "evaluator", outbox_path=tmp_path / "ob.jsonl", resend_s=0.5
        )
        fleet = await _fleet(amqtt, ev)
        ev.set_wifi(False)
        ev.press("satisfied")  # no request: flagged no_request, kept in the outbox
        old_boot = ev.boot
        ev.power_loss()
        assert ev.boot != old_boot and ev.seq == 0
        assert list(ev.outbox.events) == [(old_boot, 1)]
        ev.set_wifi(True)
        v = await gw.next("vote", pred=lambda m: m["b"] == old_boot)
        assert v["fl"] == ["no_request"] and v["s"] == 1
        ev.press("satisfied")
        v2 = await gw.next("vote", pred=lambda m: m["b"] == ev.boot)
        assert v2["s"] == 1
        await fleet.close()

    asyncio.run(scenario())


def test_outbox_file_survives_and_skips_torn_line(tmp_path: Path) -> None:
    p = tmp_path / "ob.jsonl"
    ob = Outbox(p)
    for s in (1, 2, 3):
        ob.add(wire.vote("EV-A01", "b1", s, "satisfied", None, 0))
    ob.ack("b1", 1, [3])
    with p.open("a") as f:
        f.write('{"op":"e","m":{"d"')  # a torn append
    again = Outbox(p)
    assert list(again.events) == [("b1", 2)]


def test_ignores_another_devices_downlink() -> None:
    """amqtt 0.12.1 was seen delivering another device's cfg after a restart: never apply it."""

    async def scenario() -> None:
        m = DeviceModel(HALL, "EV-A04", "evaluator")
        other = wire_gw.config("EV-A02", 7, "A02", wire.LEVELS, 60, paused=True)
        m._on_message(wire.device_topic(HALL, "EV-A02", "cfg"), wire.encode(other))
        assert m.cfg is None and not m.evaluator.paused
        assert m.stats["misrouted"] == 1
        own = wire_gw.config("EV-A04", 8, "A04", wire.LEVELS, 60, paused=True)
        m._on_message(wire.device_topic(HALL, "EV-A04", "cfg"), wire.encode(own))
        assert m.cfg is not None and m.evaluator.paused

    asyncio.run(scenario())


def test_wait_unpaused_returns_when_the_config_ends_the_pause() -> None:
    """A press waits for a device whose config still says paused (the gateway behind the script)."""

    async def scenario() -> tuple[bool, bool, bool]:
        m = DeviceModel(HALL, "EV-A04", "evaluator")
        topic = wire.device_topic(HALL, "EV-A04", "cfg")
        m._on_message(
            topic, wire.encode(wire_gw.config("EV-A04", 1, "A04", wire.LEVELS, 60, paused=True))
        )
        still = await m.wait_unpaused(0.05)
        waiter = asyncio.create_task(m.wait_unpaused(30))
        await asyncio.sleep(0)
        m._on_message(topic, wire.encode(wire_gw.config("EV-A04", 2, "A04", wire.LEVELS, 60)))
        resumed = await waiter
        return still, resumed, m.evaluator.paused

    assert asyncio.run(scenario()) == (False, True, False)
