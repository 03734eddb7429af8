"""The hallrate wire contract: MQTT topics, message kinds, encoding and validation.

One source of truth in two modules, both here in firmware/:
- this one, everything a device runs: topics, the schema of every kind and its validator,
  encode/decode, and the constructors of the messages a device sends. The firmware imports it as
  ``wire``; the gateway and simulator as ``firmware.wire``.
- ``wire_gw.py``, the part only the gateway side runs (the messages it sends, queue events,
  hall-wide topics, level code tables). The device never loads it (heap: docs/benchmarks.md).

Keep to the common subset of MicroPython and CPython: no typing imports, no f-strings, no
dataclasses. Every byte of this module is device heap: prefer data in strings to nested
containers. See docs/protocol.md for the prose version of everything below.
"""

import json

try:
    from micropython import const
except ImportError:  # CPython (a def here would be one more code object in device RAM)
    const = int  # type: ignore[assignment]


PROTOCOL_VERSION = const(1)
TOPIC_ROOT = "hr/v1"
MAX_PAYLOAD = const(2048)
_MAX_SEQ = const(2147483647)
_MAX_ID_LEN = const(32)

# The label tuples are built from lists: the elements of a constant tuple load from .mpy as
# string objects on the heap, a list display's are interned names (docs/benchmarks.md).
# GB/T 39046-2020 code list A.8, in the standard's order (code 1 .. 5). The wire carries the
# label, never the code: some provincial interfaces number the levels in reverse.
LEVELS = tuple(
    [
        "very_satisfied",
        "satisfied",
        "basically_satisfied",
        "dissatisfied",
        "very_dissatisfied",
    ]
)
# The ballot box (投票箱) has three slots, left to right.
BALLOT_SLOTS = tuple(["satisfied", "basically_satisfied", "dissatisfied"])

# Flags a device may attach to a vote. The gateway decides what counts; the device only
# reports what it saw.
VOTE_FLAGS = tuple(["misuse", "no_request", "paused"])
ALARMS = tuple(["jam", "jam_cleared", "tamper", "lid_open", "lid_closed", "outbox_overflow"])
QUEUE_EVENTS = tuple(["login", "logout", "call", "recall", "finish", "transfer", "pause", "resume"])
DEVICE_KINDS = tuple(["evaluator", "ballot_box"])
STATUS_STATES = tuple(["online", "offline"])

# Kinds that consume a per-boot sequence number, stay in the device outbox until the
# gateway's end-to-end ack, and are deduplicated on (device, boot, seq).
SEQUENCED_KINDS = tuple(["vote", "drop", "alarm"])

# Device topic channel -> direction ("u" device -> gateway, "d" gateway -> device), QoS, and
# "r" when retained. Each channel carries the message kind of its own name.
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
}
QUEUE_CHANNEL = "queue"  # hr/v1/{hall}/queue: queue system -> gateway

# Field specs per kind: "name:type" separated by spaces, required fields before the "|",
# optional ones after it. Types: s str (<= 256 chars), i int >= 0, p int > 0, z any int,
# seq 1..2^31-1, b bool, l list, o object, id identifier; the labels L (LEVELS), F (VOTE_FLAGS),
# A (ALARMS), S (STATUS_STATES), K (DEVICE_KINDS), Q (QUEUE_EVENTS); ?x x or null; [x a list of x.
_DEVICE_HEAD = "v:i k:s d:id b:id"
_QUEUE_HEAD = "v:i k:s"
_EVENT_HEAD = "s:seq t:?i up:i"  # and of every sequenced kind
SCHEMAS = {
    "vote": "lv:L | rq:?s tk:?s w:?s fl:[F rs:b",
    "drop": "lv:L slot:i | tk:?s rs:b",
    "alarm": "a:A | slot:?i rs:b",
    "gone": "from:seq to:seq",
    "status": "st:S | dk:K fw:s t:?i",
    "hb": "t:?i up:i s:i ob:i | heap:?i rssi:?z ovf:i st:s",
    "tele": "t:?i up:i m:o",
    "cfg": "rev:i w:?s levels:[L timeout:i | staff:?o paused:b hb:i lang:s t:?i",
    "req": "rq:s tk:s w:s t:?i ttl:i | staff:?o",
    "ack": "n:i | x:[p",
    "resend": "from:seq to:seq",
    "queue": "id:s ev:Q t:i | w:?s tk:?s staff:?s m:?s to:?s src:s",
}
_LABELS = (LEVELS, VOTE_FLAGS, ALARMS, STATUS_STATES, DEVICE_KINDS, QUEUE_EVENTS)


class WireError(ValueError):
    """Raised for any payload or topic that does not follow the contract."""


def _valid_id(x):
    if not isinstance(x, str) or not 0 < len(x) <= _MAX_ID_LEN:
        return False
    for c in x:
        if not (("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c in "-_."):
            return False
    return True


def _ok(t, v):
    """Does ``v`` (not None) have type ``t`` of the field specs?"""
    if t[0] == "[":
        if not isinstance(v, list):
            return False
        for x in v:
            if not _ok(t[1:], x):
                return False
        return True
    j = "LFASKQ".find(t)
    if j >= 0 and len(t) == 1:
        return v in _LABELS[j]
    # bool is an int subclass on CPython but not on MicroPython: exclude it on both.
    n = isinstance(v, int) and not isinstance(v, bool)
    if t == "s":
        return isinstance(v, str) and len(v) <= 256
    if t == "i":
        return n and v >= 0
    if t == "p":
        return n and v > 0
    if t == "z":
        return n and -_MAX_SEQ <= v <= _MAX_SEQ
    if t == "seq":
        return n and 0 < v <= _MAX_SEQ
    if t == "b":
        return isinstance(v, bool)
    if t == "l":
        return isinstance(v, list)
    if t == "o":
        return isinstance(v, dict)
    if t == "id":
        return _valid_id(v)
    raise WireError("unknown type " + t)  # a bug in SCHEMAS


def validate(msg):
    """Check a decoded message against the contract; return it, or raise WireError."""
    if not isinstance(msg, dict):
        raise WireError("payload is not a JSON object")
    kind = msg.get("k")
    if not isinstance(kind, str) or kind not in SCHEMAS:
        raise WireError("unknown message kind: %r" % (kind,))
    if msg.get("v") != PROTOCOL_VERSION:
        raise WireError("unsupported protocol version: %r" % (msg.get("v"),))
    # One field list: the head (and an event's), all required, then the kind's own spec.
    spec = _QUEUE_HEAD if kind == QUEUE_CHANNEL else _DEVICE_HEAD
    if kind in SEQUENCED_KINDS:
        spec += " " + _EVENT_HEAD
    required = True
    for f in (spec + " " + SCHEMAS[kind]).split():
        if f == "|":
            required = False
            continue
        name, t = f.split(":")
        if name not in msg:
            if required:
                raise WireError("field %s is missing" % name)
        elif msg[name] is None:
            if t[0] != "?":
                raise WireError("field %s must not be null" % name)
        elif not _ok(t.lstrip("?"), msg[name]):
            raise WireError("field %s has a bad value: %r" % (name, msg[name]))
    if kind == "drop":
        slot = msg["slot"]
        if slot >= len(BALLOT_SLOTS) or BALLOT_SLOTS[slot] != msg["lv"]:
            raise WireError("ballot slot %d does not hold %s" % (slot, msg["lv"]))
    elif (kind == "gone" or kind == "resend") and msg["from"] > msg["to"]:
        raise WireError("range from %d > to %d" % (msg["from"], msg["to"]))
    return msg


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
    if not isinstance(payload, (bytes, bytearray)) or len(payload) > MAX_PAYLOAD:
        raise WireError("payload is not bytes of at most %d" % MAX_PAYLOAD)
    try:
        msg = json.loads(bytes(payload).decode())
    except Exception:
        raise WireError("payload is not UTF-8 JSON")
    validate(msg)
    if kind is not None and msg["k"] != kind:
        raise WireError("expected a %s message, got %s" % (kind, msg["k"]))
    return msg


# ---- topics ------------------------------------------------------------------------------


def device_topic(hall, device, channel):
    """hr/v1/{hall}/dev/{device}/{channel}"""
    if not _valid_id(hall) or not _valid_id(device) or channel not in CHANNELS:
        raise WireError("bad device topic: %r %r %r" % (hall, device, channel))
    return TOPIC_ROOT + "/" + hall + "/dev/" + device + "/" + channel


# parse_topic and decode_for_topic (any topic of a hall) are in wire_gw.py: a device only ever
# receives on its own subscriptions, which it compares with device_topic().


# ---- the messages a device sends (wire_gw.py has the gateway's) --------------------------


def _head(kind, device, boot):
    return {"v": PROTOCOL_VERSION, "k": kind, "d": device, "b": boot}


def _event(kind, device, boot, seq, t, up):
    m = _head(kind, device, boot)
    m["s"] = seq
    m["t"] = t
    m["up"] = up
    return m


def vote(device, boot, seq, level, t, up, rq=None, tk=None, w=None, flags=None):
    m = _event("vote", device, boot, seq, t, up)
    m["lv"] = level
    if rq is not None:
        m["rq"] = rq
        m["tk"] = tk
        m["w"] = w
    if flags:
        m["fl"] = list(flags)
    return m


def drop(device, boot, seq, slot, t, up, tk=None):
    m = _event("drop", device, boot, seq, t, up)
    m["slot"] = slot
    m["lv"] = BALLOT_SLOTS[slot] if 0 <= slot < len(BALLOT_SLOTS) else None
    if tk is not None:
        m["tk"] = tk
    return m


def alarm(device, boot, seq, name, t, up, slot=None):
    m = _event("alarm", device, boot, seq, t, up)
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
