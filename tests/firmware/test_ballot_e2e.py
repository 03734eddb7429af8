"""The ballot-box firmware on the real interpreter: drops, bursts, jams, readers, lid."""

from __future__ import annotations

import time

import pytest

from tests.firmware.conftest import DeviceFactory, device_config
from tests.firmware.standin_gateway import StandinGateway
from tests.support.brokers import Broker

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(90)]


def _box(broker: Broker, **kw: object) -> dict[str, object]:
    return device_config(broker, device="BB-1", kind="ballot_box", **kw)


def test_burst_of_20_drops_in_2_seconds_counts_20(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    dev = make_device(_box(broker)).start()
    dev.wait_link()
    for i in range(20):
        dev.beam(i % 3, 30)
        time.sleep(0.1)
    drops = gateway.wait(
        lambda: len(gateway.of_kind("drop")) >= 20 and gateway.of_kind("drop"), what="20 drops"
    )
    dev.wait_depth(0)
    assert len(gateway.of_kind("drop")) == 20
    assert sorted(d["s"] for d in drops) == list(range(1, 21))
    per_slot = [sum(1 for d in drops if d["slot"] == s) for s in range(3)]
    assert per_slot == [7, 7, 6]
    assert dev.status()["counts"] == [7, 7, 6]
    assert {d["lv"] for d in drops if d["slot"] == 0} == {"satisfied"}


def test_two_tickets_in_quick_succession_count_twice(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    dev = make_device(_box(broker)).start()
    dev.wait_link()
    dev.beam(2, 20)
    time.sleep(0.045)  # the second ticket enters 25 ms after the first left
    dev.beam(2, 20)
    gateway.wait(lambda: len(gateway.of_kind("drop")) == 2, what="two drops")
    assert dev.status()["counts"] == [0, 0, 2]


def test_jam_alarm_stops_counting_until_clear(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    dev = make_device(_box(broker, jam_ms=500)).start()
    dev.wait_link()
    dev.beam(1, 1500)
    dev.wait_event(lambda e: e.get("ev") == "queued" and e["k"] == "alarm", what="jam alarm")
    assert dev.status()["jammed"] == [False, True, False]
    alarms = gateway.wait(
        lambda: (
            [a["a"] for a in gateway.of_kind("alarm")] == ["jam", "jam_cleared"]
            and gateway.of_kind("alarm")
        ),
        timeout=10,
        what="jam then cleared",
    )
    assert all(a["slot"] == 1 for a in alarms)
    assert gateway.of_kind("drop") == []  # the jammed ticket is not counted
    dev.drop(1)
    gateway.wait(lambda: len(gateway.of_kind("drop")) == 1, what="counting again after clear")


def test_reader_ticket_sent_with_drop_and_lid_alarm(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    dev = make_device(_box(broker)).start()
    dev.wait_link()
    dev.drop(0, ticket="A012")
    time.sleep(0.1)
    dev.drop(0)  # no ticket read for this one
    gateway.wait(lambda: len(gateway.of_kind("drop")) == 2, what="two drops")
    by_seq = {d["s"]: d for d in gateway.of_kind("drop")}
    assert by_seq[1]["tk"] == "A012" and "tk" not in by_seq[2]
    dev.lid(True)
    gateway.wait(
        lambda: [a["a"] for a in gateway.of_kind("alarm")] == ["lid_open"], what="lid_open"
    )
    dev.lid(False)
    gateway.wait(
        lambda: [a["a"] for a in gateway.of_kind("alarm")] == ["lid_open", "lid_closed"],
        what="lid_closed",
    )
