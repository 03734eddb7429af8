"""The gateway side of the hallrate wire contract: what no device ever runs.

The contract is one source of truth in two modules (see wire.py): ``wire`` holds the topics,
the schema and validator of every kind and the device's own messages; this module holds the
messages the gateway sends (cfg, req, ack, resend), queue events, hall-wide topics, the
idempotency key and the level code tables. The gateway, simulator and tests import both
(``from firmware import wire, wire_gw``); the device bundle does not ship this one, so its
code costs no device heap. Same rules as wire.py: the common subset of MicroPython and
CPython (the contract tests run it on both).
"""

import json

try:
    from firmware import wire  # CPython: gateway, simulator, tests
except ImportError:
    import wire  # type: ignore[no-redef]  # MicroPython: firmware/ on sys.path
# The update kinds are part of every message the gateway side decodes (wire_ota registers them).
try:
    from firmware import wire_ota, wire_scr
except ImportError:
    import wire_ota  # type: ignore[no-redef]  # noqa: F401
    import wire_scr  # type: ignore[no-redef]  # noqa: F401

QUEUE_QOS = 1  # of hr/v1/{hall}/queue (wire.QUEUE_CHANNEL)

# Device topic channel (a kind of wire.SCHEMAS) -> direction ("u" device -> gateway, "d"
# gateway -> device), QoS, and "r" when retained. Each channel carries the message kind of its
# own name. Here, not in wire: a device checks a topic against wire.SCHEMAS (heap).
CHANNELS = {
    "vote": "u1",
    "drop": "u1",
    "alarm": "u1",
    "gone": "u1",
    "status": "u1r",
    "hb": "u0",
    "tele": "u0",
    "cfg": "d1r",
    "req": "d1",
    "ack": "d1",
    "resend": "d1",
    "ota": "d1",
    "blk": "d1",
    "fetch": "u1",
    "upd": "u1",
    "scr": "d1",
}

LEVEL_ZH = {
    "very_satisfied": "非常满意",
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "dissatisfied": "不满意",
    "very_dissatisfied": "非常不满意",
}
# GB/T 39046-2020 code list A.8 (the order of wire.LEVELS).
LEVEL_GBT39046_CODE = {
    "very_satisfied": "1",
    "satisfied": "2",
    "basically_satisfied": "3",
    "dissatisfied": "4",
    "very_dissatisfied": "5",
}


# ---- topics ------------------------------------------------------------------------------


def queue_topic(hall):
    """hr/v1/{hall}/queue: queue-system events pushed over MQTT."""
    if not wire._valid_id(hall):
        raise wire.WireError("bad hall id")
    return wire.TOPIC_ROOT + "/" + hall + "/" + wire.QUEUE_CHANNEL


def queue_err_topic(hall):
    """hr/v1/{hall}/queue/err: the gateway's answer to a queue event it rejected."""
    return queue_topic(hall) + "/err"


def gateway_status_topic(hall):
    """hr/v1/{hall}/gw/status: the gateway's own retained presence."""
    if not wire._valid_id(hall):
        raise wire.WireError("bad hall id")
    return wire.TOPIC_ROOT + "/" + hall + "/gw/status"


def gateway_presence(state):
    """The gateway's retained presence on gateway_status_topic (and its last will), compact JSON
    bytes: {"v":1,"k":"gw","st":"online"|"offline"}."""
    if state not in wire.STATUS_STATES:
        raise wire.WireError("bad gateway state %r" % (state,))
    return ('{"v":%d,"k":"gw","st":"%s"}' % (wire.PROTOCOL_VERSION, state)).encode()


def parse_topic(topic):
    """Split a topic into (hall, device or None, channel). Raises wire.WireError."""
    if isinstance(topic, (bytes, bytearray)):
        topic = bytes(topic).decode()
    p = topic.split("/")
    n = len(p)
    if n > 3 and p[0] + "/" + p[1] == wire.TOPIC_ROOT and wire._valid_id(p[2]):
        if n == 4 and p[3] == wire.QUEUE_CHANNEL:
            return p[2], None, wire.QUEUE_CHANNEL
        if n == 5 and p[3] == "gw" and p[4] == "status":
            return p[2], None, "gw/status"
        if n == 6 and p[3] == "dev" and wire._valid_id(p[4]) and p[5] in CHANNELS:
            return p[2], p[4], p[5]
    raise wire.WireError("not a hallrate v1 topic: %r" % (topic,))


def decode_for_topic(topic, payload):
    """Decode a message and check that it belongs on this topic; return (hall, device, msg).
    The queue topic takes a queue event in the HTTP shape ("v" and "k" optional)."""
    hall, device, channel = parse_topic(topic)
    if device is None:
        if channel != wire.QUEUE_CHANNEL:
            raise wire.WireError("gateway status is not a device message")
        return hall, None, queue_event_from(_loads(payload))
    msg = wire.decode(payload, channel)  # each channel carries the kind of its own name
    if device is not None and msg["d"] != device:
        raise wire.WireError("device id %r in payload does not match topic %r" % (msg["d"], device))
    return hall, device, msg


def qos_retain(channel):
    """(QoS, retain) for a device channel (CHANNELS)."""
    c = CHANNELS[channel]
    return int(c[1]), c[-1] == "r"


def device_subscription(hall, direction="up"):
    """Wildcard filters (topic, QoS) for one direction ("up" or "down") of a hall's devices."""
    d = direction[0]
    out = []
    for ch in CHANNELS:
        if CHANNELS[ch][0] == d:
            out.append((wire.TOPIC_ROOT + "/" + hall + "/dev/+/" + ch, qos_retain(ch)[0]))
    return out


def event_key(msg):
    """The idempotency key of a sequenced device event: device:boot:seq."""
    return "%s:%s:%d" % (msg["d"], msg["b"], msg["s"])


# ---- constructors ------------------------------------------------------------------------


def telemetry(device, boot, t, up, metrics):
    """A device's "tele" message (built by the simulator and tests; no firmware sends it yet)."""
    m = wire._head("tele", device, boot)
    m["t"] = t
    m["up"] = up
    m["m"] = metrics
    return m


def config(
    device, rev, window, levels, timeout, staff=None, paused=False, hb=30, lang="zh", t=None
):
    # The gateway's boot id is carried in "b" of down messages: "gw" marks its origin.
    m = wire._head("cfg", device, "gw")
    m["rev"] = rev
    m["w"] = window
    m["levels"] = list(levels)
    m["timeout"] = timeout
    m["staff"] = staff
    m["paused"] = paused
    m["hb"] = hb
    m["lang"] = lang
    m["t"] = t
    return m


def rating_request(device, rq, ticket, window, t, ttl, staff=None):
    m = wire._head("req", device, "gw")
    m["rq"] = rq
    m["tk"] = ticket
    m["w"] = window
    m["t"] = t
    m["ttl"] = ttl
    if staff is not None:
        m["staff"] = staff
    return m


def ack(device, boot, upto, extra=None):
    """End-to-end ack: every event of ``boot`` with seq <= upto (and those in extra) is stored."""
    m = wire._head("ack", device, boot)
    m["n"] = upto
    if extra:
        m["x"] = list(extra)
    return m


def resend(device, boot, first, last):
    m = wire._head("resend", device, boot)
    m["from"] = first
    m["to"] = last
    return m


def queue_event(
    event_id,
    event,
    t,
    window=None,
    ticket=None,
    staff=None,
    matter=None,
    to=None,
    src=None,
    phone=None,
):
    m = {"v": wire.PROTOCOL_VERSION, "k": "queue", "id": event_id, "ev": event, "t": t}
    if window is not None:
        m["w"] = window
    if ticket is not None:
        m["tk"] = ticket
    if staff is not None:
        m["staff"] = staff
    if matter is not None:
        m["m"] = matter
    if to is not None:
        m["to"] = to
    if src is not None:
        m["src"] = src
    if phone is not None:
        m["ph"] = phone
    return m


# ---- queue events: one shape on every adapter (HTTP, MQTT, serial) ------------------------


def _loads(payload):
    """Bytes of at most wire.MAX_PAYLOAD → a JSON value. Raises wire.WireError."""
    if isinstance(payload, str):
        payload = payload.encode()
    if not isinstance(payload, (bytes, bytearray)) or len(payload) > wire.MAX_PAYLOAD:
        raise wire.WireError("payload is not bytes of at most %d" % wire.MAX_PAYLOAD)
    if payload.count(b"[") + payload.count(b"{") > wire.MAX_OPEN:  # as wire.decode
        raise wire.WireError("payload over 2048 bytes or 16 [ and {")
    try:
        return json.loads(bytes(payload).decode())
    except Exception:  # ValueError, UnicodeError, RecursionError (deep nesting)
        raise wire.WireError("payload is not UTF-8 JSON")


def queue_event_from(obj):
    """A queue event as a queue system sends it (HTTP body item, MQTT payload, serial line) →
    the validated wire queue event. "v" and "k" may be left out (defaulted to 1 and "queue");
    given, they must be 1 and "queue". Raises wire.WireError with the reason."""
    if not isinstance(obj, dict):
        raise wire.WireError("event is not a JSON object")
    msg = {"v": wire.PROTOCOL_VERSION, "k": wire.QUEUE_CHANNEL}
    msg.update(obj)
    if msg["k"] != wire.QUEUE_CHANNEL:
        raise wire.WireError("expected a queue event, got kind %r" % (msg["k"],))
    wire.validate(msg)
    return msg


def queue_error(obj, reason):
    """The message published on queue_err_topic for a rejected event: its id when that is a
    string of at most 64 characters (else null) and the reason, cut to 200 characters."""
    event_id = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(event_id, str) or len(event_id) > 64:
        event_id = None
    return {"v": wire.PROTOCOL_VERSION, "k": "queue_err", "id": event_id, "reason": reason[:200]}


def queue_error_for_payload(payload, reason):
    """queue_error for raw bytes (the id is read when the payload is a JSON object)."""
    try:
        obj = _loads(payload)
    except wire.WireError:
        obj = None
    return queue_error(obj, reason)
