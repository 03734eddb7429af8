"""The evaluator firmware on the real interpreter against a real broker and a stand-in gateway."""

from __future__ import annotations

import pytest

from firmware import wire_gw
from tests.firmware.conftest import DeviceFactory, device_config
from tests.firmware.standin_gateway import StandinGateway
from tests.support.brokers import Broker

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(90)]


def test_press_vote_ack_empty_outbox(broker: Broker, make_device: DeviceFactory) -> None:
    gw = StandinGateway(broker.host, broker.port, auto_ack=False)
    try:
        gw.send_cfg("EV-A03", rev=7, window="A03")
        dev = make_device(device_config(broker)).start()
        dev.wait_event(lambda e: e.get("ev") == "cfg" and e.get("rev") == 7, what="retained cfg")
        dev.wait_link()
        gw.request("EV-A03", "rq-1", "A012", "A03")
        dev.wait_event(lambda e: e.get("screen") == "ask", what="请评价 on screen")
        dev.press("satisfied", bounce=True)
        votes = gw.wait(lambda: gw.of_kind("vote"), what="vote")
        assert len(votes) == 1
        v = votes[0]
        assert (v["lv"], v["rq"], v["tk"], v["w"]) == ("satisfied", "rq-1", "A012", "A03")
        assert "fl" not in v and v["b"] == dev.boots[-1] and v["s"] == 1
        assert v["t"] is not None
        # Received by the broker and the gateway, but not acked end to end: still in the outbox.
        assert dev.outbox_depth() == 1
        gw.ack_all("EV-A03")
        dev.wait_depth(0)
        thanks = dev.wait_event(lambda e: e.get("screen") == "thanks", what="thanks screen")
        assert thanks["text"] == "谢谢您的评价"
        shown = [e.get("text", "") for e in dev.events if e.get("ev") == "display"]
        assert not any(zh in t for t in shown for zh in wire_gw.LEVEL_ZH.values()), shown
    finally:
        gw.close()


def test_later_presses_misuse_and_no_request(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    gateway.send_cfg("EV-A03", rev=1, levels=("satisfied", "basically_satisfied", "dissatisfied"))
    dev = make_device(device_config(broker, misuse_ms=60000)).start()
    dev.wait_event(lambda e: e.get("ev") == "cfg", what="cfg")
    dev.wait_link()
    dev.press(0)  # nothing requested yet
    gateway.wait(lambda: len(gateway.of_kind("vote")) == 1, what="no_request vote")
    gateway.request("EV-A03", "rq-9", "B007")
    dev.wait_event(lambda e: e.get("screen") == "ask", what="ask")
    dev.press("dissatisfied")
    gateway.wait(lambda: len(gateway.of_kind("vote")) == 2, what="counted vote")
    dev.press(1)
    gateway.wait(lambda: len(gateway.of_kind("vote")) == 3, what="misuse vote")
    by_seq = {v["s"]: v for v in gateway.of_kind("vote")}
    assert by_seq[1]["fl"] == ["no_request"] and by_seq[1]["lv"] == "satisfied"
    assert "fl" not in by_seq[2] and by_seq[2]["lv"] == "dissatisfied"
    assert by_seq[2]["rq"] == "rq-9"
    assert by_seq[3]["fl"] == ["misuse"] and by_seq[3]["rq"] == "rq-9"
    assert by_seq[3]["lv"] == "basically_satisfied"
    dev.wait_depth(0)


def test_config_is_kept_for_a_boot_without_broker(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    three = ("satisfied", "basically_satisfied", "dissatisfied")
    gateway.send_cfg("EV-A03", rev=5, levels=three, staff={"id": "1001", "name": "张三"})
    dev = make_device(device_config(broker)).start()
    dev.wait_event(lambda e: e.get("ev") == "cfg" and e.get("rev") == 5, what="cfg rev 5")
    idle = dev.wait_event(lambda e: e.get("screen") == "idle", what="idle screen with staff")
    assert idle["text"] == "1001 张三"
    dev.stop()
    gateway.close()
    broker.stop()
    dev.start()
    dev.wait_event(lambda e: e.get("ev") == "cfg" and e.get("rev") == 5, what="cfg from flash")
    st = dev.status()
    assert st["cfg_rev"] == 5 and st["levels"] == list(three) and not st["link"]
