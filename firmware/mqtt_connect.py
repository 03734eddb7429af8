"""The MQTT link's connect (MqttLink.run): open, CONNECT, CONNACK, SUBSCRIBE. Loaded for each
connect attempt and dropped after, so its code is device heap only while a connect runs."""

import struct
from time import ticks_ms

from micropython import const
from mqtt_link import _varlen

_CONNACK = const(0x20)
_SUBSCRIBE = const(0x82)


def subscribe_packet(pid, filters):
    """SUBSCRIBE bytes; ``filters`` = its payload, each topic filter as _str(topic) + QoS byte."""
    body = struct.pack("!H", pid) + filters
    return bytes((_SUBSCRIBE,)) + _varlen(len(body)) + body


async def connect(link, host, port):
    """Open, CONNECT, CONNACK, SUBSCRIBE; sets _err to None when done, or to the error."""
    link._dead = False
    try:
        r, w = await link.hal.open_connection(host, port)
        link._reader = r
        link._writer = w
        w.write(link.hello)
        await w.drain()
        typ, body = await link._read_packet()
        if typ != _CONNACK or len(body) < 2 or body[1] != 0:
            raise OSError("connack refused: %r" % (bytes(body),))
        link._pid = link._pid % 65535 + 1
        await link._send(subscribe_packet(link._pid, link.subscriptions))
        link._last_rx = ticks_ms()
        link.connects += 1
        link._err = None
    except Exception as e:
        link._err = e
