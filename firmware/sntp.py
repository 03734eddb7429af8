"""SNTP without blocking the event loop: one 48-byte UDP exchange on a non-blocking socket,
polled from asyncio (docs/firmware.md, Time). Loaded by the heartbeat for the exchange and
dropped after it: its code is heap only while it runs.
"""

import asyncio
import os
import socket
import time
from time import ticks_diff, ticks_ms

_NTP_1970 = 2208988800  # seconds from 1900 (NTP's epoch) to 1970
_WAIT_MS = 2000


async def query(host, port):
    """The server's transmit time in epoch seconds, or None (no answer in 2 s, a bad reply)."""
    req = bytearray(48)
    req[0] = 0x23  # LI 0, version 4, mode 3 (client)
    nonce = os.urandom(8)
    req[40:48] = nonce  # our transmit time: the reply must echo it as its originate time
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0][-1]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setblocking(False)
        s.connect(addr)  # connected: a closed port shows as ECONNREFUSED, not a 2 s wait
        s.send(req)
        t0 = ticks_ms()
        while ticks_diff(ticks_ms(), t0) < _WAIT_MS:
            await asyncio.sleep_ms(50)
            try:
                r = s.recv(48)
            except OSError as e:
                if e.errno == 11:  # EAGAIN: nothing yet
                    continue
                return None  # the host said the port is closed (ECONNREFUSED)
            if len(r) == 48 and r[0] & 7 == 4 and 0 < r[1] < 16 and r[24:32] == nonce:
                return int.from_bytes(r[40:44], "big") - _NTP_1970
        return None
    finally:
        s.close()


async def sync(dev):
    """Ask conf ntp_host (default: the broker host) at ntp_port (123); on an answer, the RTC is
    set where the hal can (set_clock) and the device's time is the server's from now on
    (source "ntp"). Logs {"ev": "ntp", "ok": ...}; returns whether it had an answer."""
    conf = dev.conf
    try:
        t = await query(
            conf.get("ntp_host") or conf.get("broker_host", "127.0.0.1"), conf.get("ntp_port", 123)
        )
    except OSError:  # no route, a name that does not resolve
        t = None
    if t is not None:
        if hasattr(dev.hal, "set_clock"):
            dev.hal.set_clock(t)
        dev._gw_delta = t - int(time.time()) - (946684800 if time.gmtime(0)[0] == 2000 else 0)
        dev.source = "ntp"
    dev.hal.log({"ev": "ntp", "ok": t is not None})
    return t is not None
