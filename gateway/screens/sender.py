"""Sends each evaluator its screens (scr messages) when its config is published (login, logout,
pause, resume, gateway start) and when it comes online (it may have missed them); a device skips
a screen whose content id it already holds, so a resend costs no flash write."""

from __future__ import annotations

import logging
import threading
from typing import Any

from firmware import wire_scr
from gateway.config import GatewayConfig
from gateway.logs import event
from gateway.screens.config import ScreensConfig
from gateway.screens.font import find_font
from gateway.screens.render import Staff, bands, messages, screen_id

log = logging.getLogger("hallrate.gateway")


class ScreenSender:
    def __init__(self, cfg: GatewayConfig, sc: ScreensConfig, publisher: Any) -> None:
        self.cfg = cfg
        self.sc = sc
        self.publisher = publisher  # downlink.Publisher
        self.font = str(find_font(sc.font))  # FontError at start, not at the first login
        self.state: Any = None  # DeviceUpdates: the window's staff now (set by the gateway)
        self._sent: dict[str, dict[str, str]] = {}  # device -> key -> screen id last sent
        self._lock = threading.Lock()  # the pipeline thread and the observer may both send

    def send(self, device: str, staff: dict[str, Any] | None, force: bool = False) -> int:
        """Render and send the screens of ``device`` for ``staff`` ({"id", "name"} or None);
        unchanged ones only with ``force``. Returns the number of screens sent."""
        d = self.cfg.devices.get(device)
        if d is None or d.kind != "evaluator":
            return 0
        st = Staff(staff["id"], staff.get("name") or staff["id"]) if staff else None
        lang = self.sc.lang_of(device)
        n = 0
        with self._lock:
            sent = self._sent.setdefault(device, {})
            for key in wire_scr.KEYS:
                bs = bands(key, lang, self.font, d.window, st if key == "idle" else None)
                sid = screen_id(bs)
                if not force and sent.get(key) == sid:
                    continue
                for m in messages(device, key, bs):
                    self.publisher.publish(device, "scr", m)
                sent[key] = sid
                n += 1
        if n:
            event(log, "screens_sent", device=device, screens=n, lang=lang)
        return n

    def observe(self, msg: dict[str, Any], _received_at: float) -> None:
        """A pipeline observer: an evaluator that comes online gets its screens again."""
        if msg.get("k") == "status" and msg.get("st") == "online" and self.state is not None:
            dev = msg["d"]
            if dev in self.cfg.devices:
                staff, _paused = self.state._device_state(dev)
                self.send(dev, self.state._staff_obj(staff), force=True)
