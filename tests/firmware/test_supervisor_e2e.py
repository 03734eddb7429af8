"""The supervisor on the real interpreter (docs/firmware.md, Supervisor): an exception injected
into each critical task, or a task that stops checking in, resets the device; the error is on
flash and reported after the reboot; the outbox is intact and its votes are counted once."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.firmware_process import FirmwareDevice
from tests.firmware import device_root
from tests.firmware.conftest import DeviceFactory, device_config
from tests.firmware.standin_gateway import StandinGateway
from tests.support.brokers import Mosquitto

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(120)]


@pytest.fixture
def gateway(mosquitto: Mosquitto) -> Iterator[StandinGateway]:
    g = StandinGateway(mosquitto.host, mosquitto.port)
    yield g
    g.close()


CRITICAL = ("link", "sender", "inputs", "ticker")


def _board(make_device: DeviceFactory, broker: Mosquitto, root: Path, **kw: Any) -> FirmwareDevice:
    conf = device_config(
        broker, device="EV-SUP", root=str(root), watchdog_ms=2000, stale_ms=4000, **kw
    )
    dev = make_device(conf, workdir=root.parent)
    dev.board = True
    return dev


def _status(gateway: StandinGateway, boot: str) -> dict[str, Any]:
    return gateway.wait(
        lambda: [
            m
            for m in gateway.other
            if m["k"] == "status" and m["b"] == boot and m["st"] == "online"
        ],
        what="online status of the new boot",
    )[0]


def _two_votes_pending(dev: FirmwareDevice, gateway: StandinGateway) -> set[tuple[str, int]]:
    """Two presses sent but not acked: they sit in the outbox at the reset."""
    gateway.auto_ack = False
    dev.press(0)
    dev.wait_depth(1)
    dev.press(1)  # a misuse press during thanks: a second vote all the same
    dev.wait_depth(2)
    gateway.wait(lambda: len(gateway.of_kind("vote", "EV-SUP")) == 2, what="both votes sent")
    return {(dev.boots[-1], q["s"]) for q in dev.queued() if q["k"] == "vote"}


def _counted_once(dev: FirmwareDevice, gateway: StandinGateway, keys: set[tuple[str, int]]) -> None:
    gateway.auto_ack = True
    gateway.ack_all("EV-SUP")
    dev.wait_depth(0)
    votes = gateway.of_kind("vote", "EV-SUP")
    assert {(v["b"], v["s"]) for v in votes} == keys  # nothing lost, no vote under a new key


@pytest.mark.parametrize("task", CRITICAL)
def test_an_exception_in_a_critical_task_is_logged_and_resets_with_the_outbox_intact(
    task: str,
    mosquitto: Mosquitto,
    gateway: StandinGateway,
    make_device: DeviceFactory,
    tmp_path: Path,
) -> None:
    root = device_root.layout(tmp_path / "root")
    dev = _board(make_device, mosquitto, root).start()
    dev.wait_link()
    keys = _two_votes_pending(dev, gateway)
    mark = dev.mark()
    dev._send(f"kill {task}")
    fatal = dev.wait_event(lambda e: e.get("ev") == "fatal", 10, "fatal", mark)
    assert "RuntimeError('killed'" in fatal["err"]
    assert dev.wait_event(lambda e: e.get("ev") == "exit", 10, "reset", mark)["rc"] == 3
    boot = dev.wait_boot(2)
    # On flash: boot.json's last fatal and the reset cause, a line in fatal.log.
    st = json.loads((root / "boot.json").read_text())
    assert "killed" in st["ft"] and st["crashes"] == 1
    assert fatal["err"][:200] in (root / "fatal.log").read_text()
    fw = dev.wait_event(lambda e: e.get("ev") == "boot", 10, "boot line", mark)["fw"]
    assert (fw["rc"], fw["bc"], fw["ft"]) == ("crash", 2, fatal["err"][:64])
    # Reported after the reboot: the retained online status and the heartbeat.
    status = _status(gateway, boot)
    assert (status["rc"], status["bc"], status["ft"]) == ("crash", 2, fatal["err"][:64])
    assert status["mp"].startswith("1.") and status["mp"] == status["mp"][:48]
    hb = gateway.wait(
        lambda: [m for m in gateway.other if m["k"] == "hb" and m["b"] == boot], what="hb"
    )[0]
    assert (hb["rc"], hb["ft"]) == ("crash", fatal["err"][:64])
    _counted_once(dev, gateway, keys)


@pytest.mark.parametrize("task", CRITICAL)
def test_a_task_that_stops_checking_in_starves_the_watchdog(
    task: str,
    mosquitto: Mosquitto,
    gateway: StandinGateway,
    make_device: DeviceFactory,
    tmp_path: Path,
) -> None:
    root = device_root.layout(tmp_path / "root")
    dev = _board(make_device, mosquitto, root).start()
    dev.wait_link()
    keys = _two_votes_pending(dev, gateway)
    mark = dev.mark()
    dev._send(f"stall {task}")
    fatal = dev.wait_event(lambda e: e.get("ev") == "fatal", 15, "stale task", mark)
    assert fatal["err"] == "stale " + task
    # The supervisor stops feeding; the watchdog (the hal's, after watchdog_ms without a
    # feed), not the supervisor, resets.
    assert dev.wait_event(lambda e: e.get("ev") == "reset", 10, "wdt", mark)["why"] == "wdt"
    boot = dev.wait_boot(2)
    assert _status(gateway, boot)["rc"] == "wdt"
    assert json.loads((root / "boot.json").read_text())["ft"] == "stale " + task
    _counted_once(dev, gateway, keys)


def test_every_task_checks_in_so_a_healthy_device_is_fed_and_never_reset(
    mosquitto: Mosquitto, gateway: StandinGateway, make_device: DeviceFactory, tmp_path: Path
) -> None:
    root = device_root.layout(tmp_path / "root")
    dev = _board(make_device, mosquitto, root).start()
    dev.wait_link()
    first = dev.status()["wdt_feeds"]
    # Offline (the link backs off and retries) and busy: still fed, no reset.
    dev.set_wifi(False)
    dev.wait_link(up=False)
    for i in range(5):
        dev.press(i)
    dev.wait_depth(5)
    time.sleep(6)  # longer than stale_ms + watchdog_ms: a starved device would have reset
    dev.set_wifi(True)
    dev.wait_link()
    assert dev.status()["wdt_feeds"] > first
    assert len(dev.boots) == 1
    assert not [e for e in dev.events if e.get("ev") in ("fatal", "reset", "exit")]


class _Sntp:
    """A local SNTP server on 127.0.0.1 (a UDP port of its own): answers with ``t`` (epoch s),
    or stays silent (``t`` None)."""

    def __init__(self, t: int | None) -> None:
        self.t = t
        self.asked = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                req, addr = self.sock.recvfrom(48)
            except OSError:
                return
            self.asked += 1
            if self.t is None or len(req) != 48:
                continue
            secs = (self.t + 2208988800).to_bytes(4, "big") + bytes(4)
            reply = bytes([0x24, 2]) + bytes(22) + req[40:48] + secs + secs + secs
            self.sock.sendto(reply, addr)


def test_sntp_sets_the_devices_time_without_blocking_the_loop(
    mosquitto: Mosquitto, gateway: StandinGateway, make_device: DeviceFactory, tmp_path: Path
) -> None:
    t = 1893456000  # 2030-01-01: far from the host's clock, so the device's time shows its source
    srv = _Sntp(t)
    conf = device_config(mosquitto, device="EV-NTP", ntp_host="127.0.0.1", ntp_port=srv.port)
    dev = make_device(conf).start()
    dev.wait_link()
    dev.wait_event(lambda e: e.get("ev") == "ntp" and e["ok"], 15, "an SNTP answer")
    assert abs(dev.status()["t"] - t) < 60


def test_a_silent_sntp_host_does_not_stall_the_device(
    mosquitto: Mosquitto, gateway: StandinGateway, make_device: DeviceFactory, tmp_path: Path
) -> None:
    srv = _Sntp(None)
    conf = device_config(mosquitto, device="EV-NTP", ntp_host="127.0.0.1", ntp_port=srv.port)
    dev = make_device(conf).start()
    dev.wait_link()
    gateway.wait(lambda: srv.asked, 15, "an SNTP request")
    # While the request waits for its answer (2 s), the loop serves a press end to end.
    mark = dev.mark()
    dev.press(0)
    dev.wait_event(lambda e: e.get("ev") == "queued", 5, "the vote", mark)
    dev.wait_event(lambda e: e.get("ev") == "ntp", 10, "the SNTP give-up", mark)
    assert dev.wait_event(lambda e: e.get("ev") == "ntp", 1, "", mark)["ok"] is False
    gateway.wait(lambda: gateway.of_kind("vote", "EV-NTP"), 10, "the vote at the gateway")
    assert abs(dev.status()["t"] - time.time()) < 60  # the host's clock, as before


def test_a_press_made_and_released_inside_a_loop_stall_counts_once(
    mosquitto: Mosquitto, gateway: StandinGateway, make_device: DeviceFactory
) -> None:
    dev = make_device(device_config(mosquitto, device="EV-BLIP", ntp_host="")).start()
    dev.wait_link()
    mark = dev.mark()
    dev._send("blip 1 80")  # the loop is blocked for the whole 80 ms press (a flash stall)
    dev.wait_event(lambda e: e.get("ev") == "queued", 5, "the vote", mark)
    gateway.wait(lambda: gateway.of_kind("vote", "EV-BLIP"), 10, "the vote at the gateway")
    assert dev.status()["presses"] == 1
    # Bounce after a normal press is no phantom press: still one vote more per press.
    dev.press(2, bounce=True)
    gateway.wait(lambda: len(gateway.of_kind("vote", "EV-BLIP")) == 2, 10, "the second vote")
    time.sleep(0.5)
    assert dev.status()["presses"] == 2


@pytest.mark.parametrize("how", ["kill", "stall"])
def test_the_ballot_box_sampler_is_supervised_too(
    how: str,
    mosquitto: Mosquitto,
    gateway: StandinGateway,
    make_device: DeviceFactory,
    tmp_path: Path,
) -> None:
    """The ballot box's one input task (beams and lid, checking in as "inputs"): an exception in
    it resets the box, and so does a sampler that stops checking in; drops queued unacked before
    the reset are delivered after it under their old keys, once."""
    root = device_root.layout(tmp_path / "root")
    conf = device_config(
        mosquitto,
        device="BB-SUP",
        kind="ballot_box",
        root=str(root),
        watchdog_ms=2000,
        stale_ms=4000,
    )
    dev = make_device(conf, workdir=root.parent)
    dev.board = True
    dev.start()
    dev.wait_link()
    gateway.auto_ack = False
    dev.drop(0)
    dev.drop(2)
    gateway.wait(lambda: len(gateway.of_kind("drop", "BB-SUP")) == 2, what="both drops sent")
    keys = {(dev.boots[-1], q["s"]) for q in dev.queued() if q["k"] == "drop"}
    assert len(keys) == 2
    mark = dev.mark()
    dev._send(f"{how} inputs")
    fatal = dev.wait_event(lambda e: e.get("ev") == "fatal", 15, "fatal", mark)
    assert ("killed" if how == "kill" else "stale inputs") in fatal["err"]
    assert dev.wait_event(lambda e: e.get("ev") == "exit", 15, "reset", mark)["rc"] == 3
    boot = dev.wait_boot(2)
    status = _status_of(gateway, "BB-SUP", boot)
    assert status["rc"] == ("crash" if how == "kill" else "wdt") and status["bc"] == 2
    gateway.auto_ack = True
    gateway.ack_all("BB-SUP")
    dev.wait_depth(0)
    drops = gateway.of_kind("drop", "BB-SUP")
    assert {(d["b"], d["s"]) for d in drops} == keys  # nothing lost, nothing under a new key


def _status_of(gateway: StandinGateway, device: str, boot: str) -> dict[str, Any]:
    return gateway.wait(
        lambda: [
            m
            for m in gateway.other
            if m["k"] == "status" and m["d"] == device and m["b"] == boot and m["st"] == "online"
        ],
        what="online status of the new boot",
    )[0]
