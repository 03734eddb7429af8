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
# The highest per-boot sequence number (the small-int range of 32-bit MicroPython ports): the
# firmware starts a new boot id before its seq would pass it. MAX_SPAN bounds a gone/resend range.
MAX_SEQ = const(1073741823)
MAX_SPAN = const(65536)
MAX_OPEN = const(16)  # "[" and "{" characters in a payload: bounds the JSON nesting

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
# The ballot box (投票箱) has three slots, left to right: the middle three levels (a slice
# shares LEVELS' strings: every string of 11 or more characters is an object of its own).
BALLOT_SLOTS = LEVELS[1:4]

# Flags a device may attach to a vote. The gateway decides what counts; the device only
# reports what it saw.
VOTE_FLAGS = tuple(["misuse", "no_request", "paused"])
ALARMS = tuple(
    [
        "jam",
        "jam_cleared",
        "tamper",
        "lid_open",
        "lid_closed",
        "outbox_overflow",
        "fw_updated",
        "fw_rolled_back",
        "outbox_set_aside",
        # Field-ready devices (docs/protocol.md, alarm): the boot's power-on, a beam blocked at
        # boot or failing its self-test, drops the hardware counter saw and the sampler missed, a
        # ticket or finger withdrawn before the confirm beam, the box estimated full, a beam's
        # margin worn down (dust), and the safe mode after a boot loop.
        "power_on",
        "beam_blocked",
        "beam_fault",
        "drops_recovered",
        "withdrawn",
        "box_full",
        "beam_weak",
        "safe_mode",
    ]
)
QUEUE_EVENTS = tuple(["login", "logout", "call", "recall", "finish", "transfer", "pause", "resume"])
DEVICE_KINDS = tuple(["evaluator", "ballot_box"])
STATUS_STATES = tuple(["online", "offline"])

# Kinds that consume a per-boot sequence number, stay in the device outbox until the
# gateway's end-to-end ack, and are deduplicated on (device, boot, seq).
SEQUENCED_KINDS = tuple(["vote", "drop", "alarm"])

# The device topic channels are the kinds of SCHEMAS but "queue": each channel carries the kind
# of its own name. Their direction, QoS and retain flag are in wire_gw.CHANNELS.
QUEUE_CHANNEL = "queue"  # hr/v1/{hall}/queue: queue system -> gateway

# Field specs per kind: "name:type" separated by spaces, required fields before the "|",
# optional ones after it; every type has a bound (docs/protocol.md, Bounds). Types: i int
# 0..MAX_SEQ, iN int 0..N, q 1..MAX_SEQ, z int -MAX_SEQ..MAX_SEQ, T time (Unix seconds in
# 2000..2099), U uptime ms 0..2^40-1, b bool, sN str of at most N chars, cN a code of 1..N chars
# of A-Z a-z 0-9 - _ . (CN: and ":"), P staff {"id": C32, "name": s64}, M metrics (at most 32
# keys c32, scalar values); the labels L (LEVELS), F (VOTE_FLAGS), A (ALARMS), S
# (STATUS_STATES), K (DEVICE_KINDS), Q (QUEUE_EVENTS); N a phone (5..20 chars: digits after an
# optional leading +); [x a list of at most 100 distinct x,
# +x the same but not empty; ?x x or null; O an update state (OTA_STATES).
_DEVICE_HEAD = "v:i d:c32 b:c32"
_EVENT_HEAD = " s:q t:?T up:U"  # and of every sequenced kind
SCHEMAS = {
    "vote": "lv:L | rq:?C64 tk:?C32 w:?c16 fl:[F rs:b",
    "drop": "lv:L slot:i2 | tk:?C32 rs:b",
    "alarm": "a:A | slot:?i2 rs:b",
    "gone": "from:q to:q",
    "status": "st:S | dk:K fw:s32 t:?T rc:c16 bc:i ft:s64 uid:c32 mp:s48",
    "hb": "t:?T up:U s:i ob:i | heap:?i rssi:?z ovf:i st:s16 fw:s32 sl:c8 pr:b rc:c16 bc:i"
    " lfb:?i oa:?i rb:s64 ft:s64 stt:s48",
    "tele": "t:?T up:U m:M",
    "cfg": "rev:i w:?c16 levels:+L timeout:i | staff:?P paused:b hb:i lang:s8 t:?T",
    "req": "rq:C64 tk:C32 w:c16 t:?T ttl:i | staff:?P",
    "ack": "n:i | x:[q",
    "resend": "from:q to:q",
    "queue": "id:C64 ev:Q t:T | w:?c16 tk:?C32 staff:?C32 m:?C64 to:?c16 src:s16 ph:?N",
}
# The update kinds (ota, blk, fetch, upd) and their label O (OTA_STATES) are added to SCHEMAS
# and _LABELS by wire_ota.py when it is imported: a device loads them only while it updates
# (0.7 KB of heap otherwise); the gateway side imports wire_ota with wire_gw.
_LABELS = (LEVELS, VOTE_FLAGS, ALARMS, STATUS_STATES, DEVICE_KINDS, QUEUE_EVENTS)


class WireError(ValueError):
    """Raised for any payload or topic that does not follow the contract."""


def _valid_id(x, n=32, more="-_."):
    """Is x a code of 1..n characters of A-Z a-z 0-9 and ``more``?"""
    if not isinstance(x, str) or not 0 < len(x) <= n:
        return False
    for c in x:
        if not (("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c in more):
            return False
    return True


def _bad(t, v):
    """Is ``v`` (not None) not of type ``t`` of the field specs? True, or a number's range
    as text ("out of range 2000..2099"), or False when it is of that type."""
    c = t[0]
    n = t[1:]
    if c in "[+":
        if not isinstance(v, list) or len(v) > 100 or len(v) < (c == "+"):
            return True
        for x in v:
            if _bad(n, x):
                return True
        return len(set(v)) != len(v)
    j = "LFASKQO".find(c)
    if j >= 0:
        return v not in _LABELS[j]
    if c in "cC":
        return not _valid_id(v, int(n), "-_.:" if c == "C" else "-_.")
    if c == "s":
        return not isinstance(v, str) or len(v) > int(n)
    if c == "b":
        return not isinstance(v, bool)
    if c == "N":
        return (
            not isinstance(v, str)
            or not 4 < len(v) < 21
            or (v[1:] if v[0] == "+" else v).strip("0123456789") != ""
        )
    if c == "P":  # staff shown on a device: {"id": 工号, "name": ...}
        return (
            not isinstance(v, dict)
            or len(v) != 1 + ("name" in v)
            or _bad("C32", v.get("id"))
            or _bad("s64", v.get("name", ""))
        )
    if c == "M":  # telemetry metrics: flat, null/bool/integer/short text values
        if not isinstance(v, dict) or len(v) > 32:
            return True
        for k in v:
            x = v[k]
            if not _valid_id(k) or (
                x is not None and _bad("z", x) and _bad("b", x) and _bad("s64", x)
            ):
                return True
        return False
    # An integer in lo..hi. bool is an int subclass on CPython but not on MicroPython.
    if not isinstance(v, int) or isinstance(v, bool):
        return True
    lo = 0
    hi = MAX_SEQ
    if c == "q":
        lo = 1
    elif c == "z":
        lo = -MAX_SEQ
    elif c == "T":
        lo = 946684800  # 2000-01-01T00:00:00Z
        hi = 4102444799  # 2099-12-31T23:59:59Z
    elif c == "U":
        hi = 1099511627775
    elif n:
        hi = int(n)
    if lo <= v <= hi:
        return False
    return "out of range " + ("2000..2099" if c == "T" else "%d..%d" % (lo, hi))


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
    spec = "v:i " if kind == QUEUE_CHANNEL else _DEVICE_HEAD
    if kind in SEQUENCED_KINDS:
        spec += _EVENT_HEAD
    required = True
    for f in (spec + " " + SCHEMAS[kind]).split():
        if f == "|":
            required = False
            continue
        name, t = f.split(":")
        v = msg.get(name)
        if v is None:
            if (required and name not in msg) or (t[0] != "?" and name in msg):
                raise WireError("field %s is missing or null" % name)
            continue
        e = _bad(t.lstrip("?"), v)
        if e:
            if e is True:
                e = "is not " + t + " (docs/protocol.md, Bounds)"
            raise WireError("field %s %s: %r" % (name, e, v))
    if kind == "drop":
        if BALLOT_SLOTS[msg["slot"]] != msg["lv"]:
            raise WireError("ballot slot %d does not hold %s" % (msg["slot"], msg["lv"]))
    elif kind == "ota":
        if not msg.get("stop") and (msg.get("mf") is None or msg.get("sig") is None):
            raise WireError("an ota offer needs mf and sig (or stop: true)")
    elif kind == "gone" or kind == "resend":
        a = msg["from"]
        b = msg["to"]
        if a > b or b - a >= MAX_SPAN:
            raise WireError("range %d..%d is not 1..%d numbers" % (a, b, MAX_SPAN))
    return msg


def encode(msg):
    """Validate and serialise a message to compact UTF-8 JSON bytes."""
    validate(msg)
    text = json.dumps(msg, separators=(",", ":"))
    # MicroPython's json.dumps returns str like CPython's; some ports hand back bytes.
    data = text if isinstance(text, bytes) else text.encode()
    if len(data) > MAX_PAYLOAD or data.count(b"[") + data.count(b"{") > MAX_OPEN:
        raise WireError("payload over 2048 bytes or 16 [ and {")
    return data


def decode(payload, kind=None):
    """Parse and validate bytes from the wire. Raises WireError and nothing else."""
    if isinstance(payload, str):
        payload = payload.encode()
    if not isinstance(payload, (bytes, bytearray)):
        raise WireError("payload is not bytes")
    # The nesting bound is a count (in strings too), in C, before any parser could recurse.
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD or payload.count(b"[") + payload.count(b"{") > MAX_OPEN:
        raise WireError("payload over 2048 bytes or 16 [ and {")
    try:
        msg = json.loads(payload.decode())
    except Exception:
        raise WireError("payload is not UTF-8 JSON")
    validate(msg)
    if kind is not None and msg["k"] != kind:
        raise WireError("expected a %s message, got %s" % (kind, msg["k"]))
    return msg


# ---- topics ------------------------------------------------------------------------------


def device_topic(hall, device, channel):
    """hr/v1/{hall}/dev/{device}/{channel}"""
    if (
        not _valid_id(hall)
        or not _valid_id(device)
        or channel not in SCHEMAS
        or channel == QUEUE_CHANNEL
    ):
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


def status(device, boot, state, device_kind=None, fw=None, t=None, health=None):
    """``health``: the optional fields rc (reset cause), bc (boot count), ft (last fatal error),
    uid (machine.unique_id hex), mp (MicroPython version and board), added as given."""
    m = _head("status", device, boot)
    m["st"] = state
    if device_kind is not None:
        m["dk"] = device_kind
    if fw is not None:
        m["fw"] = fw
    if t is not None:
        m["t"] = t
    if health:
        m.update(health)
    return m


def heartbeat(
    device, boot, t, up, last_seq, outbox, heap=None, rssi=None, overflow=0, state=None, health=None
):
    """``health``: the optional device-health fields (fw sl pr rc bc lfb oa rb ft stt), added
    as given (leave out a field rather than set it to None where the wire does not allow null)."""
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
    if health:
        m.update(health)
    return m
