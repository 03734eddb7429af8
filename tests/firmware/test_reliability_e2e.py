"""Nothing lost, nothing doubled: broker restarts, Wi-Fi loss, power cuts mid-write, resends."""

from __future__ import annotations

import time

import pytest

from tests.firmware.conftest import DeviceFactory, device_config
from tests.firmware.standin_gateway import StandinGateway
from tests.support.brokers import Broker

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(120)]


def test_broker_restart_loses_nothing(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    dev = make_device(device_config(broker)).start()
    dev.wait_link()
    dev.press(0)
    gateway.wait(lambda: len(gateway.of_kind("vote")) == 1, what="first vote")
    dev.wait_depth(0)
    broker.stop()
    dev.wait_link(up=False)
    for i in range(3):
        dev.press(i)
    dev.wait_depth(3)
    broker.start()
    gateway.wait(lambda: len(gateway.of_kind("vote")) == 4, timeout=30, what="all four votes")
    dev.wait_depth(0, timeout=30)
    assert sorted(v["s"] for v in gateway.of_kind("vote")) == [1, 2, 3, 4]
    assert {v["lv"] for v in gateway.of_kind("vote") if v["s"] > 1} == {
        "very_satisfied",
        "satisfied",
        "basically_satisfied",
    }


def test_wifi_drop_then_back(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    dev = make_device(device_config(broker)).start()
    dev.wait_link()
    dev.set_wifi(False)
    dev.wait_link(up=False)
    dev.press(4)
    dev.press(3)
    dev.wait_depth(2)
    assert gateway.of_kind("vote") == []
    dev.set_wifi(True)
    gateway.wait(lambda: len(gateway.of_kind("vote")) == 2, what="votes after Wi-Fi is back")
    dev.wait_depth(0)


def test_power_cut_mid_write_keeps_outbox_and_doubles_nothing(
    broker: Broker, make_device: DeviceFactory
) -> None:
    gw = StandinGateway(broker.host, broker.port, auto_ack=False)
    try:
        dev = make_device(device_config(broker)).start()
        dev.wait_link()
        for i in range(3):
            dev.press(i)
        gw.wait(lambda: len(gw.of_kind("vote")) == 3, what="three unacked votes")
        first_boot = dev.boots[-1]
        dev.tear_next_write(20)  # the next record is cut after 20 bytes, then the power goes
        dev.press(3)
        torn = dev.wait_event(lambda e: e.get("ev") == "torn", what="torn write")
        assert torn["wrote"] == 20
        dev.kill()

        dev.start()
        ready = dev.events[0]
        assert ready["ev"] == "ready" and ready["skipped"] == 20  # the torn tail, detected
        assert ready["depth"] == 3  # the three whole records survived
        assert dev.boots[-1] != first_boot
        dev.wait_link()
        # The device resends the old boot's events (flagged rs); the receiver dedups by key.
        gw.wait(lambda: len(gw.received) >= 6, what="resent copies")
        gw.ack_all("EV-A03")
        dev.wait_depth(0)
        dev.press(4)
        gw.wait(lambda: len(gw.of_kind("vote")) == 4, what="vote of the new boot")
        keys = {(v["b"], v["s"]) for v in gw.of_kind("vote")}
        assert keys == {(first_boot, 1), (first_boot, 2), (first_boot, 3), (dev.boots[-1], 1)}
        resent = [m for m in gw.received if m["b"] == first_boot and m.get("rs")]
        assert {m["s"] for m in resent} >= {1, 2, 3}
        for m in gw.received:  # every copy of a key is the same event
            orig = gw.events[f"{m['d']}:{m['b']}:{m['s']}"]
            assert (m["lv"], m["up"]) == (orig["lv"], orig["up"])
    finally:
        gw.close()


def test_kill_during_burst_no_loss_of_durable_events(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    gateway.auto_ack = False
    dev = make_device(device_config(broker, kind="ballot_box", device="BB-1")).start()
    dev.wait_link()
    for i in range(15):
        dev.drop(i % 3)
        time.sleep(0.04)  # slots take turns, so each slot sees separate tickets
    dev.wait_event(lambda e: e.get("ev") == "queued" and e["s"] >= 8, what="half the burst")
    dev.kill()  # somewhere in the middle of the burst
    queued = {e["s"] for e in dev.queued() if e["k"] == "drop"}  # not the boot's power_on alarm
    boot = dev.boots[-1]
    gateway.auto_ack = True
    dev.start()
    dev.wait_link()
    dev.wait_depth(0)
    got = [d for d in gateway.of_kind("drop") if d["b"] == boot]
    # Every drop queued durably before the cut arrived; at most the record being written when
    # the power went may be lost (it was never queued); nothing is counted twice.
    assert queued <= {d["s"] for d in got}
    assert len(got) == len({d["s"] for d in got}) <= 15
    for m in gateway.of_kind("drop"):
        assert m["slot"] == gateway.events[f"{m['d']}:{m['b']}:{m['s']}"]["slot"]


def test_resend_request_answers_gone_for_what_is_acked(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    dev = make_device(device_config(broker)).start()
    dev.wait_link()
    dev.press(0)
    dev.press(1)
    gateway.wait(lambda: len(gateway.of_kind("vote")) == 2, what="two votes")
    dev.wait_depth(0)
    gateway.auto_ack = False
    dev.press(2)
    gateway.wait(lambda: len(gateway.of_kind("vote")) == 3, what="third vote")
    n = len(gateway.received)
    gateway.resend("EV-A03", dev.boots[-1], 1, 5)
    gone = gateway.wait(lambda: [m for m in gateway.other if m["k"] == "gone"], what="gone answer")
    assert (gone[0]["from"], gone[0]["to"]) == (1, 2)  # acked earlier; 4..5 never existed
    gateway.wait(
        lambda: any(m.get("rs") and m["s"] == 3 for m in gateway.received[n:]),
        what="seq 3 resent on request",
    )


def test_status_will_and_heartbeat(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    dev = make_device(device_config(broker)).start()
    dev.wait_link()
    hb = gateway.wait(lambda: [m for m in gateway.other if m["k"] == "hb"], what="heartbeat")[0]
    assert hb["ob"] == 0 and hb["heap"] > 0 and hb["rssi"] == -55 and hb["up"] > 0
    assert any(m["k"] == "status" and m["st"] == "online" for m in gateway.other)
    dev.kill()
    gateway.wait(
        lambda: any(m["k"] == "status" and m["st"] == "offline" for m in gateway.other),
        what="last will offline",
    )


def test_no_valid_clock_means_null_time_until_the_gateway_sets_it(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    dev = make_device(device_config(broker, clock_valid=False)).start()
    dev.wait_link()
    dev.press(0)
    v1 = gateway.wait(lambda: gateway.of_kind("vote"), what="vote without time")[0]
    assert v1["t"] is None
    now = int(time.time())
    gateway.send_cfg("EV-A03", rev=2, t=now)
    dev.wait_event(lambda e: e.get("ev") == "cfg" and e["rev"] == 2, what="cfg with time")
    dev.press(1)
    gateway.wait(lambda: len(gateway.of_kind("vote")) == 2, what="vote with time")
    v2 = next(v for v in gateway.of_kind("vote") if v["s"] == 2)
    assert v2["t"] is not None and abs(v2["t"] - now) < 120
