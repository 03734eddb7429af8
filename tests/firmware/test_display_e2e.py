"""The evaluator's screens end to end: the real gateway renderer's scr messages over a real
broker to the firmware on the real interpreter, whose simulated ST7789 writes a PNG on every
screen change; each state's PNG must be exactly the renderer's composition of that screen.

The PNGs stay under the test's basetemp (screens/<step>.png) for people to look at."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from firmware import wire_scr
from gateway.screens.render import BLUE, INK, Staff, bands, compose, messages, rgb
from simulator.firmware_process import FirmwareDevice
from tests.firmware.conftest import DeviceFactory, device_config
from tests.firmware.standin_gateway import StandinGateway
from tests.support.brokers import Broker
from tests.support.cjk_font import cjk_font

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(120)]

DEV = "EV-A03"
ZHANG = Staff("1001", "张三")


def send_screens(gw: StandinGateway, font: str, lang: str, staff: Staff | None) -> None:
    for key in wire_scr.KEYS:
        for m in messages(
            DEV, key, bands(key, lang, font, "A03", staff if key == "idle" else None)
        ):
            gw.publish(DEV, "scr", m)


def expected(key: str, lang: str, font: str, staff: Staff | None = None) -> Image.Image:
    return compose(bands(key, lang, font, "A03", staff))


def wait_screen(
    dev: FirmwareDevice, png: Path, key: str, want: Image.Image, keep: Path, start: int
) -> Image.Image:
    """The first drawing of ``key`` since ``start`` whose PNG equals ``want``; kept as ``keep``."""
    seen: list[Any] = []

    def drawn(e: dict[str, Any]) -> bool:
        if e.get("ev") != "screen" or e.get("key") != key:
            return False
        img = Image.open(png).convert("RGB")
        seen.append(ImageChops.difference(img, want).getbbox())
        if seen[-1] is None:
            shutil.copy(png, keep)
            return True
        return False

    dev.wait_event(drawn, timeout=20, what=f"screen {key} as rendered (diffs {seen})", start=start)
    return Image.open(keep).convert("RGB")


def test_every_screen_is_what_the_gateway_rendered(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory, tmp_path: Path
) -> None:
    font = cjk_font()
    png = tmp_path / "screen.png"
    out = tmp_path / "screens"
    out.mkdir()
    dev = make_device(device_config(broker, display=True, screen_png=str(png), buzzer=60)).start()
    blank = dev.wait_event(lambda e: e.get("ev") == "screen", what="the boot's blank screen")
    assert blank["key"] == "idle"
    assert Image.open(png).convert("RGB").getcolors() == [(240 * 320, (0, 0, 0))]
    dev.wait_link()

    # No staff logged in: the welcome and the window.
    at = dev.mark()
    send_screens(gateway, font, "zh", None)
    gateway.send_cfg(DEV, rev=1, window="A03")
    welcome = wait_screen(
        dev, png, "idle", expected("idle", "zh", font), out / "1-idle-nostaff.png", at
    )

    # A login: the idle screen shows the name and the 工号 where the renderer put them.
    at = dev.mark()
    send_screens(gateway, font, "zh", ZHANG)
    gateway.send_cfg(DEV, rev=2, window="A03", staff={"id": "1001", "name": "张三"})
    idle = wait_screen(
        dev, png, "idle", expected("idle", "zh", font, ZHANG), out / "2-idle-staff.png", at
    )
    assert ImageChops.difference(idle, welcome).getbbox() is not None
    # The name in ink and the 工号 in blue, each in its own band's place.
    for b in bands("idle", "zh", font, "A03", ZHANG)[1:]:
        x, y, w, h, fg = b[:5]
        colours = {c for _, c in idle.crop((x, y, x + w, y + h)).getcolors() or []}
        assert rgb(fg) in colours and (rgb(INK) in colours or rgb(BLUE) in colours)
    assert {rgb(INK), rgb(BLUE)} <= {c for _, c in idle.getcolors() or []}

    # A rating request: 请评价 (and a beep).
    at = dev.mark()
    gateway.request(DEV, "rq-1", "A001")
    ask = wait_screen(dev, png, "ask", expected("ask", "zh", font), out / "3-ask.png", at)
    dev.wait_event(lambda e: e.get("ev") == "beep", what="the ask beep", start=at)

    # A press: thanks, the same picture whichever level was pressed.
    at = dev.mark()
    dev.press("very_dissatisfied")
    thanks = wait_screen(
        dev, png, "thanks", expected("thanks", "zh", font), out / "4-thanks.png", at
    )
    at = dev.mark()
    gateway.request(DEV, "rq-2", "A002")
    wait_screen(dev, png, "ask", ask, out / "5-ask.png", at)
    at = dev.mark()
    dev.press("very_satisfied")
    wait_screen(dev, png, "thanks", thanks, out / "6-thanks-other-level.png", at)
    assert ImageChops.difference(ask, thanks).getbbox() is not None

    # Paused (暂停服务).
    at = dev.mark()
    gateway.send_cfg(DEV, rev=3, window="A03", staff={"id": "1001", "name": "张三"}, paused=True)
    paused = wait_screen(
        dev, png, "paused", expected("paused", "zh", font), out / "7-paused.png", at
    )
    for other in (idle, ask, thanks):
        assert ImageChops.difference(paused, other).getbbox() is not None

    # English: the gateway renders the device's language.
    at = dev.mark()
    send_screens(gateway, font, "en", ZHANG)
    gateway.send_cfg(DEV, rev=4, window="A03", staff={"id": "1001", "name": "张三"}, lang="en")
    en = wait_screen(
        dev, png, "idle", expected("idle", "en", font, ZHANG), out / "8-idle-en.png", at
    )
    assert ImageChops.difference(en, idle).getbbox() is not None
    at = dev.mark()
    gateway.request(DEV, "rq-3", "A003")
    wait_screen(dev, png, "ask", expected("ask", "en", font), out / "9-ask-en.png", at)


def test_a_bad_screen_part_changes_nothing(
    broker: Broker, gateway: StandinGateway, make_device: DeviceFactory, tmp_path: Path
) -> None:
    font = cjk_font()
    png = tmp_path / "screen.png"
    dev = make_device(device_config(broker, display=True, screen_png=str(png))).start()
    dev.wait_link()
    at = dev.mark()
    send_screens(gateway, font, "zh", None)
    want = expected("idle", "zh", font)
    wait_screen(dev, png, "idle", want, tmp_path / "before.png", at)
    bad = messages(DEV, "idle", bands("idle", "zh", font, "A03", ZHANG))[0]
    bad["x"] = 239  # the band would end past the panel's right edge
    at = dev.mark()
    gateway.publish(DEV, "scr", bad)
    err = dev.wait_event(lambda e: e.get("ev") == "bad_msg", what="bad_msg", start=at)
    assert "out of bounds" in err["err"]
    dev.status()  # the device is still answering
    assert ImageChops.difference(Image.open(png).convert("RGB"), want).getbbox() is None
