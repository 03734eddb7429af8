"""Wall-clock validity: epoch seconds from NTP or the gateway, or None when not known."""

import time

_EPOCH_2000 = 946684800
_VALID_AFTER = 1704067200  # 2024-01-01: an RTC before this has not been set


def _epoch_offset():
    # Ports with a 2000 epoch (older ESP32 builds) need the 1970 offset added.
    return _EPOCH_2000 if time.gmtime(0)[0] == 2000 else 0


class Clock:
    def __init__(self, hal):
        self.hal = hal
        self.source = None  # "ntp", "gateway", "host" or None
        self._offset = _epoch_offset()
        self._gw_delta = None  # gateway time - local time, when the gateway set it

    def now(self):
        """Epoch seconds, or None when the clock is not valid (events then carry t=null)."""
        t = int(time.time()) + self._offset
        if self._gw_delta is not None:
            return t + self._gw_delta
        if self.hal.clock_valid() and t >= _VALID_AFTER:
            if self.source is None:
                self.source = self.hal.clock_source()
            return t
        return None

    def from_gateway(self, t):
        """Take the gateway's time when the device has no valid clock of its own."""
        if t is None or t < _VALID_AFTER:
            return
        if self.hal.clock_valid():
            return
        self._gw_delta = t - (int(time.time()) + self._offset)
        self.source = "gateway"

    def sync(self):
        """Try NTP through the hal; keep the gateway time if NTP fails."""
        if self.hal.ntp_sync():
            self._gw_delta = None
            self.source = "ntp"
