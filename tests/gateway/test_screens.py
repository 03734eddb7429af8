"""The gateway's screen rendering (gateway/screens/): bounds, the wire, config, and what is sent
when (the device side: tests/firmware/test_display_e2e.py)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from firmware import wire, wire_gw, wire_scr
from gateway.config import ConfigError
from gateway.downlink import Publisher
from gateway.screens import __main__ as screens_cli
from gateway.screens.config import parse_screens
from gateway.screens.font import FontError, find_font
from gateway.screens.render import LANGS, Staff, bands, compose, messages
from gateway.screens.sender import ScreenSender
from tests.gateway.conftest import gateway_config
from tests.support.cjk_font import cjk_font

ZHANG = Staff("1001", "张三")


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], int, bool]] = []

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.sent.append((topic, wire_gw.decode_for_topic(topic, payload)[2], qos, retain))


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("staff", [None, ZHANG, Staff("A" * 32, "欧阳" * 32)])
def test_every_screen_fits_the_panel_and_the_wire(lang: str, staff: Staff | None) -> None:
    font = cjk_font()
    for key in wire_scr.KEYS:
        bs = bands(key, lang, font, "A03", staff)
        assert 1 <= len(bs) <= wire_scr.MAX_PARTS
        for m, b in zip(messages("EV-A03", key, bs), bs, strict=True):
            data = wire.encode(m)  # the schema's bounds and 2048 bytes
            assert len(data) <= wire.MAX_PAYLOAD
            back = wire.decode(data, "scr")
            assert wire_scr.check(back) == b[6]
        img = compose(bs)
        assert img.size == (240, 320) and len(img.getcolors() or []) >= 2  # text on a background


def test_check_refuses_a_band_off_the_panel_or_of_the_wrong_size() -> None:
    bits = bytes(30 * 2)
    ok = wire_scr.part("EV-A03", "ask", "0123456789abcdef", 0, 1, (0, 0, 240, 2, 0, 0xFFFF, bits))
    assert wire_scr.check(ok) == bits
    for change in ({"x": 8}, {"y": 319}, {"h": 3}, {"key": "vote"}, {"n": 1}):
        with pytest.raises(wire.WireError):
            wire_scr.check(ok | change)
    with pytest.raises(wire.WireError):
        wire_scr.check(ok | {"data": "!!!"})


def test_screens_never_show_a_level() -> None:
    font = cjk_font()
    from gateway.screens.render import lines

    for lang in LANGS:
        for key in wire_scr.KEYS:
            text = " ".join(t for t, *_ in lines(key, lang, "A03", ZHANG))
            for lv in wire.LEVELS:
                assert wire_gw.LEVEL_ZH[lv] not in text and lv not in text
    assert bands("ask", "zh", font) != bands("ask", "en", font)


def test_font_search_and_its_errors(tmp_path: Path) -> None:
    with pytest.raises(FontError, match="no such file"):
        find_font(str(tmp_path / "none.ttc"))
    assert find_font(cjk_font()) == Path(cjk_font())


def test_config_keys_and_errors() -> None:
    devices = {"EV-A03": object()}
    sc = parse_screens({"screens": {"enabled": True, "device_lang": {"EV-A03": "en"}}}, devices)
    assert sc.enabled and sc.lang_of("EV-A03") == "en" and sc.lang_of("EV-A01") == "zh"
    assert not parse_screens({}).enabled
    for bad, msg in (
        ({"lang": "fr"}, "lang must be one of zh, en"),
        ({"colour": 1}, "unknown key"),
        ({"enabled": "yes"}, "true or false"),
        ({"device_lang": {"EV-X": "en"}}, "no such device"),
    ):
        with pytest.raises(ConfigError, match=msg):
            parse_screens({"screens": bad}, devices)


def test_sender_sends_what_changed_and_everything_on_online(tmp_path: Path) -> None:
    cjk_font()
    cfg = gateway_config(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    rec = Recorder()
    s = ScreenSender(cfg, parse_screens({"screens": {"enabled": True}}), Publisher("H1", rec))
    assert s.send("EV-A03", None) == 4
    assert {m["key"] for _, m, _, _ in rec.sent} == set(wire_scr.KEYS)
    assert all(q == 1 and not r for _, _, q, r in rec.sent)  # not retained: kept on flash
    rec.sent.clear()
    assert s.send("EV-A03", None) == 0  # nothing changed
    assert s.send("EV-A03", {"id": "1001", "name": "张三"}) == 1  # the idle screen only
    assert {m["key"] for _, m, _, _ in rec.sent} == {"idle"}
    assert s.send("EV-A03", {"id": "1001", "name": "张三"}, force=True) == 4
    assert s.send("BB-01", None) == 0  # a ballot box has no display


def test_the_docs_command_writes_every_screen(tmp_path: Path) -> None:
    cjk_font()
    assert screens_cli.main(["--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(names) == 2 * 5 and "zh-idle-staff.png" in names and "en-paused.png" in names
    assert screens_cli.main(["--out", str(tmp_path), "--font", str(tmp_path / "x.ttf")]) == 2


def test_bits_are_msb_first_rows() -> None:
    """MONO_HLSB: the leftmost pixel is the top bit (what framebuf on the device reads)."""
    font = cjk_font()
    x, y, w, h, _fg, _bg, bits = bands("thanks", "zh", font)[0]
    img = compose(bands("thanks", "zh", font))
    stride = (w + 7) // 8
    for r in range(h):
        for c in range(w):
            on = bits[r * stride + c // 8] >> (7 - c % 8) & 1
            assert (img.getpixel((x + c, y + r)) != (255, 255, 255)) == bool(on)
    assert base64.b64encode(bits)  # not empty
