"""The hallrate wire contract: MQTT topics, message kinds, encoding and validation.

One source of truth, shared by the firmware (MicroPython, imported as ``wire``) and the
gateway (CPython, imported as ``firmware.wire``). Keep to the common subset of both
interpreters: no typing imports, no f-strings with ``=``, no dataclasses.
See docs/protocol.md for the prose version of everything below.
"""

import json

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):  # type: ignore[no-redef]
        return x


PROTOCOL_VERSION = const(1)
TOPIC_ROOT = "hr/v1"
MAX_PAYLOAD = const(2048)
MAX_SEQ = const(2147483647)
MAX_ID_LEN = const(32)

# GB/T 39046-2020 code list A.8, in the standard's order (code 1 .. 5). The wire carries the
# label, never the code: some provincial interfaces number the levels in reverse.
LEVELS = (
    "very_satisfied",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
    "very_dissatisfied",
)
LEVEL_ZH = {
    "very_satisfied": "非常满意",
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "dissatisfied": "不满意",
    "very_dissatisfied": "非常不满意",
}
LEVEL_GBT39046_CODE = {
    "very_satisfied": "1",
    "satisfied": "2",
    "basically_satisfied": "3",
    "dissatisfied": "4",
    "very_dissatisfied": "5",
}
# The ballot box (投票箱) has three slots, left to right.
BALLOT_SLOTS = ("satisfied", "basically_satisfied", "dissatisfied")

# Flags a device may attach to a vote. The gateway decides what counts; the device only
# reports what it saw.
VOTE_FLAGS = ("misuse", "no_request", "paused")
ALARMS = ("jam", "jam_cleared", "tamper", "lid_open", "lid_closed", "outbox_overflow")
QUEUE_EVENTS = ("login", "logout", "call", "recall", "finish", "transfer", "pause", "resume")
DEVICE_KINDS = ("evaluator", "ballot_box")
STATUS_STATES = ("online", "offline")

# Kinds that consume a per-boot sequence number, stay in the device outbox until the
# gateway's end-to-end ack, and are deduplicated on (device, boot, seq).
SEQUENCED_KINDS = ("vote", "drop", "alarm")

# Topic channel -> (message kind, direction, QoS, retain). Direction "up" is device ->
# gateway, "down" is gateway -> device, "hall" is queue system -> gateway.
CHANNELS = {
    "vote": ("vote", "up", 1, False),
    "drop": ("drop", "up", 1, False),
    "alarm": ("alarm", "up", 1, False),
    "gone": ("gone", "up", 1, False),
    "status": ("status", "up", 1, True),
    "hb": ("hb", "up", 0, False),
    "tele": ("tele", "up", 0, False),
    "cfg": ("cfg", "down", 1, True),
    "req": ("req", "down", 1, False),
    "ack": ("ack", "down", 1, False),
    "resend": ("resend", "down", 1, False),
}
QUEUE_CHANNEL = "queue"
QUEUE_QOS = const(1)

# Field specs per kind: name -> (type, required). Types: s str, i int >= 0, z any int, n number,
# seq 1..2^31-1, b bool, l list, o object, L level label, id identifier, ?x nullable x.
_DEVICE_HEAD = {
    "v": ("i", True),
    "k": ("s", True),
    "d": ("id", True),
    "b": ("id", True),
}
_EVENT_HEAD = {
    "s": ("seq", True),
    "t": ("?i", True),
    "up": ("i", True),
}
SCHEMAS = {
    "vote": {
        "lv": ("L", True),
        "rq": ("?s", False),
        "tk": ("?s", False),
        "w": ("?s", False),
        "fl": ("l", False),
        "rs": ("b", False),
    },
    "drop": {
        "lv": ("L", True),
        "slot": ("i", True),
        "tk": ("?s", False),
        "rs": ("b", False),
    },
    "alarm": {
        "a": ("s", True),
        "slot": ("?i", False),
        "rs": ("b", False),
    },
    "gone": {"from": ("seq", True), "to": ("seq", True)},
    "status": {
        "st": ("s", True),
        "dk": ("s", False),
        "fw": ("s", False),
        "t": ("?i", False),
    },
    "hb": {
        "t": ("?i", True),
        "up": ("i", True),
        "s": ("i", True),
        "ob": ("i", True),
        "heap": ("?i", False),
        "rssi": ("?z", False),
        "ovf": ("i", False),
        "st": ("s", False),
    },
    "tele": {
        "t": ("?i", True),
        "up": ("i", True),
        "m": ("o", True),
    },
    "cfg": {
        "rev": ("i", True),
        "w": ("?s", True),
        "levels": ("l", True),
        "timeout": ("i", True),
        "staff": ("?o", False),
        "paused": ("b", False),
        "hb": ("i", False),
        "lang": ("s", False),
        "t": ("?i", False),
    },
    "req": {
        "rq": ("s", True),
        "tk": ("s", True),
        "w": ("s", True),
        "t": ("?i", True),
        "ttl": ("i", True),
        "staff": ("?o", False),
    },
    "ack": {"n": ("i", True), "x": ("l", False)},
    "resend": {"from": ("seq", True), "to": ("seq", True)},
    "queue": {
        "id": ("s", True),
        "ev": ("s", True),
        "t": ("i", True),
        "w": ("?s", False),
        "tk": ("?s", False),
        "staff": ("?s", False),
        "m": ("?s", False),
        "to": ("?s", False),
        "src": ("s", False),
    },
}


class WireError(ValueError):
    """Raised for any payload or topic that does not follow the contract."""


def _is_int(x):
    # bool is an int subclass on CPython but not on MicroPython: exclude it on both.
    return isinstance(x, int) and not isinstance(x, bool)


def _valid_id(x):
    if not isinstance(x, str) or not 0 < len(x) <= MAX_ID_LEN:
        return False
    return all(("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c in "-_." for c in x)


def _check_type(name, spec, value):
    nullable = spec[0] == "?"
    t = spec[1:] if nullable else spec
    if value is None:
        if nullable:
            return
        raise WireError("field %s must not be null" % name)
    if t == "s":
        ok = isinstance(value, str) and len(value) <= 256
    elif t == "i":
        ok = _is_int(value) and value >= 0
    elif t == "z":
        ok = _is_int(value) and -MAX_SEQ <= value <= MAX_SEQ
    elif t == "seq":
        ok = _is_int(value) and 0 < value <= MAX_SEQ
    elif t == "n":
        ok = (_is_int(value) or isinstance(value, float)) and not isinstance(value, bool)
    elif t == "b":
        ok = isinstance(value, bool)
    elif t == "l":
        ok = isinstance(value, list)
    elif t == "o":
        ok = isinstance(value, dict)
    elif t == "L":
        ok = value in LEVELS
    elif t == "id":
        ok = _valid_id(value)
    else:  # pragma: no cover - a bug in SCHEMAS
        raise WireError("unknown type " + t)
    if not ok:
        raise WireError("field %s has a bad value: %r" % (name, value))


def _check_fields(msg, specs):
    for name in specs:
        spec, required = specs[name]
        if name in msg:
            _check_type(name, spec, msg[name])
        elif required:
            raise WireError("field %s is missing" % name)


def validate(msg):
    """Check a decoded message against the contract; return it, or raise WireError."""
    if not isinstance(msg, dict):
        raise WireError("payload is not a JSON object")
    kind = msg.get("k")
    if not isinstance(kind, str) or kind not in SCHEMAS:
        raise WireError("unknown message kind: %r" % (kind,))
    if msg.get("v") != PROTOCOL_VERSION:
        raise WireError("unsupported protocol version: %r" % (msg.get("v"),))
    if kind == "queue":
        _check_fields(msg, {"v": ("i", True), "k": ("s", True)})
    else:
        _check_fields(msg, _DEVICE_HEAD)
    if kind in SEQUENCED_KINDS:
        _check_fields(msg, _EVENT_HEAD)
    _check_fields(msg, SCHEMAS[kind])
    _check_semantics(kind, msg)
    return msg


def _check_semantics(kind, msg):
    if kind == "vote":
        for f in msg.get("fl", ()):
            if f not in VOTE_FLAGS:
                raise WireError("unknown vote flag: %r" % (f,))
    elif kind == "drop":
        slot = msg["slot"]
        if slot >= len(BALLOT_SLOTS):
            raise WireError("ballot slot out of range: %r" % (slot,))
        if BALLOT_SLOTS[slot] != msg["lv"]:
            raise WireError("ballot slot %d is %s, not %s" % (slot, BALLOT_SLOTS[slot], msg["lv"]))
    elif kind == "alarm":
        if msg["a"] not in ALARMS:
            raise WireError("unknown alarm: %r" % (msg["a"],))
    elif kind == "status":
        if msg["st"] not in STATUS_STATES:
            raise WireError("unknown status: %r" % (msg["st"],))
        if "dk" in msg and msg["dk"] not in DEVICE_KINDS:
            raise WireError("unknown device kind: %r" % (msg["dk"],))
    elif kind in ("gone", "resend"):
        if msg["from"] > msg["to"]:
            raise WireError("range from %d > to %d" % (msg["from"], msg["to"]))
    elif kind == "cfg":
        for lv in msg["levels"]:
            if lv not in LEVELS:
                raise WireError("unknown level in cfg: %r" % (lv,))
    elif kind == "ack":
        for s in msg.get("x", ()):
            if not _is_int(s) or s <= 0:
                raise WireError("bad selective ack: %r" % (s,))
    elif kind == "queue" and msg["ev"] not in QUEUE_EVENTS:
        raise WireError("unknown queue event: %r" % (msg["ev"],))


def encode(msg):
    """Validate and serialise a message to compact UTF-8 JSON bytes."""
    validate(msg)
    text = json.dumps(msg, separators=(",", ":"))
    # MicroPython's json.dumps returns str like CPython's; some ports hand back bytes.
    data = text if isinstance(text, bytes) else text.encode()
    if len(data) > MAX_PAYLOAD:
        raise WireError("payload too large: %d bytes" % len(data))
    return data


def decode(payload, kind=None):
    """Parse and validate bytes from the wire. Raises WireError and nothing else."""
    if isinstance(payload, str):
        payload = payload.encode()
    if not isinstance(payload, (bytes, bytearray)):
        raise WireError("payload must be bytes")
    if len(payload) > MAX_PAYLOAD:
        raise WireError("payload too large: %d bytes" % len(payload))
    try:
        text = bytes(payload).decode()
    except Exception:
        raise WireError("payload is not UTF-8")
    try:
        msg = json.loads(text)
    except Exception:
        raise WireError("payload is not JSON")
    validate(msg)
    if kind is not None and msg["k"] != kind:
        raise WireError("expected a %s message, got %s" % (kind, msg["k"]))
    return msg


# ---- topics ------------------------------------------------------------------------------


def device_topic(hall, device, channel):
    """hr/v1/{hall}/dev/{device}/{channel}"""
    if not _valid_id(hall) or not _valid_id(device):
        raise WireError("bad hall or device id")
    if channel not in CHANNELS:
        raise WireError("unknown channel: %r" % (channel,))
    return TOPIC_ROOT + "/" + hall + "/dev/" + device + "/" + channel


def queue_topic(hall):
    """hr/v1/{hall}/queue: queue-system events pushed over MQTT."""
    if not _valid_id(hall):
        raise WireError("bad hall id")
    return TOPIC_ROOT + "/" + hall + "/" + QUEUE_CHANNEL


def gateway_status_topic(hall):
    """hr/v1/{hall}/gw/status: the gateway's own retained presence."""
    if not _valid_id(hall):
        raise WireError("bad hall id")
    return TOPIC_ROOT + "/" + hall + "/gw/status"


def device_subscription(hall, direction="up"):
    """Wildcard filters for one direction of a hall's device traffic."""
    out = []
    for ch in CHANNELS:
        if CHANNELS[ch][1] == direction:
            out.append((TOPIC_ROOT + "/" + hall + "/dev/+/" + ch, CHANNELS[ch][2]))
    return out


def parse_topic(topic):
    """Split a topic into (hall, device or None, channel). Raises WireError."""
    if isinstance(topic, (bytes, bytearray)):
        topic = bytes(topic).decode()
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] + "/" + parts[1] != TOPIC_ROOT:
        raise WireError("not a hallrate v1 topic: %r" % (topic,))
    hall = parts[2]
    if not _valid_id(hall):
        raise WireError("bad hall id in topic")
    if len(parts) == 4 and parts[3] == QUEUE_CHANNEL:
        return hall, None, QUEUE_CHANNEL
    if len(parts) == 5 and parts[3] == "gw" and parts[4] == "status":
        return hall, None, "gw/status"
    if len(parts) == 6 and parts[3] == "dev" and _valid_id(parts[4]) and parts[5] in CHANNELS:
        return hall, parts[4], parts[5]
    raise WireError("unknown topic: %r" % (topic,))


def qos_retain(channel):
    """(QoS, retain) for a device channel."""
    c = CHANNELS[channel]
    return c[2], c[3]


def decode_for_topic(topic, payload):
    """Decode a message and check that it belongs on this topic; return (hall, device, msg)."""
    hall, device, channel = parse_topic(topic)
    if channel == "gw/status":
        raise WireError("gateway status is not a device message")
    expected = QUEUE_CHANNEL if channel == QUEUE_CHANNEL else CHANNELS[channel][0]
    msg = decode(payload, expected)
    if device is not None and msg["d"] != device:
        raise WireError("device id %r in payload does not match topic %r" % (msg["d"], device))
    return hall, device, msg


# ---- constructors (used by firmware, gateway and simulator alike) ------------------------


def _head(kind, device, boot):
    return {"v": PROTOCOL_VERSION, "k": kind, "d": device, "b": boot}


def vote(device, boot, seq, level, t, up, rq=None, tk=None, w=None, flags=None):
    m = _head("vote", device, boot)
    m["s"] = seq
    m["t"] = t
    m["up"] = up
    m["lv"] = level
    if rq is not None:
        m["rq"] = rq
        m["tk"] = tk
        m["w"] = w
    if flags:
        m["fl"] = list(flags)
    return m


def drop(device, boot, seq, slot, t, up, tk=None):
    m = _head("drop", device, boot)
    m["s"] = seq
    m["t"] = t
    m["up"] = up
    m["slot"] = slot
    m["lv"] = BALLOT_SLOTS[slot] if 0 <= slot < len(BALLOT_SLOTS) else None
    if tk is not None:
        m["tk"] = tk
    return m


def alarm(device, boot, seq, name, t, up, slot=None):
    m = _head("alarm", device, boot)
    m["s"] = seq
    m["t"] = t
    m["up"] = up
    m["a"] = name
    if slot is not None:
        m["slot"] = slot
    return m


def gone(device, boot, first, last):
    m = _head("gone", device, boot)
    m["from"] = first
    m["to"] = last
    return m


def status(device, boot, state, device_kind=None, fw=None, t=None):
    m = _head("status", device, boot)
    m["st"] = state
    if device_kind is not None:
        m["dk"] = device_kind
    if fw is not None:
        m["fw"] = fw
    if t is not None:
        m["t"] = t
    return m


def heartbeat(device, boot, t, up, last_seq, outbox, heap=None, rssi=None, overflow=0, state=None):
    m = _head("hb", device, boot)
    m["t"] = t
    m["up"] = up
    m["s"] = last_seq
    m["ob"] = outbox
    m["heap"] = heap
    m["rssi"] = rssi
    m["ovf"] = overflow
    if state is not None:
        m["st"] = state
    return m


def telemetry(device, boot, t, up, metrics):
    m = _head("tele", device, boot)
    m["t"] = t
    m["up"] = up
    m["m"] = metrics
    return m


def config(
    device, rev, window, levels, timeout, staff=None, paused=False, hb=30, lang="zh", t=None
):
    # The gateway's boot id is carried in "b" of down messages: "gw" marks its origin.
    m = _head("cfg", device, "gw")
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
    m = _head("req", device, "gw")
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
    m = _head("ack", device, boot)
    m["n"] = upto
    if extra:
        m["x"] = list(extra)
    return m


def resend(device, boot, first, last):
    m = _head("resend", device, boot)
    m["from"] = first
    m["to"] = last
    return m


def queue_event(
    event_id, event, t, window=None, ticket=None, staff=None, matter=None, to=None, src=None
):
    m = {"v": PROTOCOL_VERSION, "k": "queue", "id": event_id, "ev": event, "t": t}
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
    return m


def event_key(msg):
    """The idempotency key of a sequenced device event: device:boot:seq."""
    return "%s:%s:%d" % (msg["d"], msg["b"], msg["s"])
