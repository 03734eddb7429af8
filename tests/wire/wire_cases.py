"""Contract checks that run unchanged under CPython (via pytest) and MicroPython (via mp_runner.py).

Plain functions named case_* using assert only: the common subset of both interpreters.
"""

import json

try:
    import wire  # MicroPython: firmware/ is on sys.path
    import wire_gw
except ImportError:
    from firmware import wire, wire_gw

EV = "EV-A03"
BOOT = "3f2a9c01"
T = 1795400000  # 2026-11-23: a real clock's time


def _raises(fn, *args):
    try:
        fn(*args)
    except wire.WireError:
        return True
    return False


def case_vote_roundtrip():
    m = wire.vote(EV, BOOT, 17, "satisfied", 1795400000, 12345, rq="r1", tk="A012", w="A03")
    data = wire.encode(m)
    assert isinstance(data, bytes)
    back = wire.decode(data)
    assert back == m
    assert wire_gw.event_key(back) == "EV-A03:3f2a9c01:17"


def case_vote_without_time_is_valid():
    m = wire.vote(EV, BOOT, 1, "very_dissatisfied", None, 5, flags=["no_request"])
    assert wire.decode(wire.encode(m))["t"] is None


def case_every_kind_roundtrips():
    msgs = [
        wire.vote(EV, BOOT, 1, "very_satisfied", T, 2, flags=["misuse"]),
        wire.drop("BB-01", BOOT, 2, 2, None, 9, tk="A012"),
        wire.alarm("BB-01", BOOT, 3, "jam", T, 2, slot=1),
        wire.gone(EV, BOOT, 4, 9),
        wire.status(EV, BOOT, "online", "evaluator", "0.1.0", T),
        wire.status(EV, BOOT, "offline"),
        wire.heartbeat(EV, BOOT, None, 1000, 7, 2, heap=30000, rssi=-61, overflow=0),
        wire_gw.telemetry(EV, BOOT, T, 2, {"wifi_reconnects": 1}),
        wire_gw.config(EV, 3, "A03", wire.LEVELS, 30, staff={"id": "1001", "name": "张三"}),
        wire_gw.rating_request(EV, "rq-1", "A012", "A03", 1795400000, 30),
        wire_gw.ack(EV, BOOT, 17, [19, 20]),
        wire_gw.resend(EV, BOOT, 18, 18),
        wire_gw.queue_event("q-1", "finish", 1795400000, window="A03", ticket="A012", staff="1001"),
    ]
    for m in msgs:
        assert wire.decode(wire.encode(m)) == m, m


def case_levels_are_labels_in_gbt39046_order():
    assert wire.LEVELS[0] == "very_satisfied"
    assert wire.LEVELS[4] == "very_dissatisfied"
    assert wire_gw.LEVEL_ZH["basically_satisfied"] == "基本满意"
    assert wire_gw.LEVEL_GBT39046_CODE["very_satisfied"] == "1"
    assert wire.BALLOT_SLOTS == ("satisfied", "basically_satisfied", "dissatisfied")


def case_bare_digit_level_is_rejected():
    m = wire.vote(EV, BOOT, 1, "satisfied", T, 2)
    m["lv"] = 2
    assert _raises(wire.encode, m)
    assert _raises(wire.decode, b'{"v":1,"k":"vote","d":"EV","b":"x","s":1,"t":1,"up":1,"lv":"2"}')


def case_drop_slot_must_match_level():
    m = wire.drop("BB-01", BOOT, 1, 0, T, 2)
    m["lv"] = "dissatisfied"
    assert _raises(wire.encode, m)
    assert _raises(wire.encode, wire.drop("BB-01", BOOT, 1, 3, T, 2))


def case_garbage_raises_only_wire_error():
    for bad in [
        b"",
        b"{",
        b"\xff\xfe",
        b"[]",
        b"null",
        b"1",
        b'"x"',
        b'{"v":1}',
        b'{"v":1,"k":"nope"}',
        b'{"v":2,"k":"hb"}',
        b'{"v":true,"k":"hb"}',
        b'{"v":1,"k":"vote","d":"EV","b":"x","s":0,"t":1,"up":1,"lv":"satisfied"}',
        b'{"v":1,"k":"vote","d":"E/V","b":"x","s":1,"t":1,"up":1,"lv":"satisfied"}',
        b'{"v":1,"k":"vote","d":"EV","b":"x","s":true,"t":1,"up":1,"lv":"satisfied"}',
        b'{"v":1,"k":"ack","d":"EV","b":"x","n":-1}',
        b'{"v":1,"k":"resend","d":"EV","b":"x","from":5,"to":2}',
        b'{"v":1,"k":"queue","id":"1","ev":"explode","t":1}',
        b"x" * 5000,
        12,
        None,
    ]:
        assert _raises(wire.decode, bad), bad


def case_topics_are_versioned_and_scoped():
    t = wire.device_topic("H1", EV, "vote")
    assert t == "hr/v1/H1/dev/EV-A03/vote"
    assert wire_gw.parse_topic(t) == ("H1", EV, "vote")
    assert wire_gw.parse_topic("hr/v1/H1/queue") == ("H1", None, "queue")
    assert wire_gw.parse_topic(wire_gw.gateway_status_topic("H1")) == ("H1", None, "gw/status")
    for bad in ["hr/v2/H1/dev/EV/vote", "hr/v1/H1/dev/EV/bogus", "hr/v1/H+/queue", "x", ""]:
        assert _raises(wire_gw.parse_topic, bad), bad
    assert _raises(wire.device_topic, "H1", "EV/#", "vote")


def case_qos_and_retain():
    assert wire_gw.qos_retain("vote") == (1, False)
    assert wire_gw.qos_retain("status") == (1, True)
    assert wire_gw.qos_retain("cfg") == (1, True)
    assert wire_gw.qos_retain("hb") == (0, False)
    ups = [f for f, q in wire_gw.device_subscription("H1", "up")]
    assert "hr/v1/H1/dev/+/vote" in ups and "hr/v1/H1/dev/+/cfg" not in ups


def case_payload_must_match_topic():
    m = wire.encode(wire.vote(EV, BOOT, 1, "satisfied", T, 2))
    hall, dev, msg = wire_gw.decode_for_topic("hr/v1/H1/dev/EV-A03/vote", m)
    assert (hall, dev, msg["s"]) == ("H1", EV, 1)
    assert _raises(wire_gw.decode_for_topic, "hr/v1/H1/dev/EV-A04/vote", m)
    assert _raises(wire_gw.decode_for_topic, "hr/v1/H1/dev/EV-A03/drop", m)


def case_encode_refuses_invalid():
    assert _raises(wire.encode, {"v": 1, "k": "vote"})
    assert _raises(wire.encode, wire.status(EV, BOOT, "sleeping"))


# ---- bounds (docs/protocol.md, Bounds): each bound's last good value and first bad one ------

MAX_SEQ = 1073741823  # 2**30 - 1, written out: wire.MAX_SEQ is what these cases check
T_MIN = 946684800  # 2000-01-01T00:00:00Z
T_END = 4102444800  # 2100-01-01T00:00:00Z (excluded)


def _base(kind):
    """A valid message of each kind, with every optional field present."""
    staff = {"id": "1001", "name": "张三"}
    return {
        "vote": wire.vote(EV, BOOT, 17, "satisfied", T, 5, "r-1", "A012", "A03", ["misuse"]),
        "drop": wire.drop("BB-01", BOOT, 2, 1, T, 9, tk="A012"),
        "alarm": wire.alarm("BB-01", BOOT, 3, "jam", T, 2, slot=2),
        "gone": wire.gone(EV, BOOT, 18, 18),
        "status": wire.status(EV, BOOT, "online", "evaluator", "0.1.0", T),
        "hb": wire.heartbeat(EV, BOOT, T, 1000, 7, 2, 30000, -61, 0, "idle"),
        "tele": wire_gw.telemetry(EV, BOOT, T, 2, {"wifi_reconnects": 1, "clock": "ntp"}),
        "cfg": wire_gw.config(EV, 3, "A03", wire.LEVELS, 30, staff=staff, t=T),
        "req": wire_gw.rating_request(EV, "rq-1", "A012", "A03", T, 30, staff=staff),
        "ack": wire_gw.ack(EV, BOOT, 17, [19, 20]),
        "resend": wire_gw.resend(EV, BOOT, 18, 18),
        "queue": wire_gw.queue_event(
            "q-1",
            "finish",
            T,
            "A03",
            "A012",
            "1001",
            "370602-001-XK-0001",
            "A04",
            "http",
            "13812345678",
        ),
    }[kind]


def _accepted(m):
    """Accepted by validate, by encode, and by decode of its JSON; rejected by none of them."""
    ok = not _raises(wire.validate, m)
    assert ok == (not _raises(wire.encode, m)), m
    assert ok == (not _raises(wire.decode, json.dumps(m))), m
    return ok


def _bounds(kinds, name, good, bad):
    for kind in kinds.split():
        for v in good:
            m = _base(kind)
            m[name] = v
            assert _accepted(m), (kind, name, v)
            assert wire.decode(wire.encode(m)) == m
        for v in bad:
            m = _base(kind)
            m[name] = v
            assert not _accepted(m), (kind, name, v)


def case_bound_constants():
    assert wire.MAX_SEQ == MAX_SEQ == 2**30 - 1
    assert wire.MAX_SPAN == 65536
    assert wire.MAX_PAYLOAD == 2048


def case_bound_times_2000_to_2099():
    good = [T_MIN, T, T_END - 1]
    bad = [T_MIN - 1, T_END, 10**15, 253402272000, 0, -1, 1, True, 1.5e9, "1795400000"]
    _bounds("vote drop alarm status hb tele cfg req", "t", good + [None], bad)
    _bounds("queue", "t", good, bad + [None])  # a queue event's time is required


def case_bound_time_error_names_the_field_and_range():
    m = _base("vote")
    m["t"] = 253402272000
    try:
        wire.validate(m)
        raise AssertionError("accepted")
    except wire.WireError as e:
        assert str(e) == "field t out of range 2000..2099: 253402272000", str(e)


def case_bound_seq_1_to_max_seq():
    _bounds("vote drop alarm", "s", [1, MAX_SEQ], [0, MAX_SEQ + 1, 2**31 - 1, -1, None, True])
    _bounds("gone resend", "from", [1, 18], [0, MAX_SEQ + 1, 19, None])
    _bounds("gone resend", "to", [18, 65553], [MAX_SEQ + 1, 17, 65554, None])


def case_bound_heartbeat_seq_0_before_the_first_event():
    _bounds("hb", "s", [0, 1, MAX_SEQ], [-1, MAX_SEQ + 1, None, 1.0])


def case_bound_range_span_at_most_max_span():
    for kind in ["gone", "resend"]:
        m = _base(kind)
        for a, b, ok in [
            (1, 65536, True),
            (1, 65537, False),
            (1, 2147483646, False),
            (MAX_SEQ - 65535, MAX_SEQ, True),
            (MAX_SEQ - 65536, MAX_SEQ, False),
            (7, 7, True),
            (8, 7, False),
        ]:
            m["from"] = a
            m["to"] = b
            assert _accepted(m) == ok, (kind, a, b)


def case_bound_counts_and_uptime():
    _bounds("vote drop alarm hb tele", "up", [0, 2**40 - 1], [2**40, -1, None])
    _bounds("hb", "ob", [0, MAX_SEQ], [MAX_SEQ + 1, -1])
    _bounds("hb", "ovf", [0, MAX_SEQ], [MAX_SEQ + 1, -1])
    _bounds("hb", "heap", [None, 0, MAX_SEQ], [MAX_SEQ + 1, -1])
    _bounds("hb", "rssi", [None, -MAX_SEQ, -61, 0], [-MAX_SEQ - 1, MAX_SEQ + 1])
    _bounds("ack", "n", [0, MAX_SEQ], [-1, MAX_SEQ + 1])
    _bounds("cfg", "rev", [0, MAX_SEQ], [MAX_SEQ + 1])
    for f in ["timeout", "hb"]:
        _bounds("cfg", f, [0, MAX_SEQ], [-1, MAX_SEQ + 1])
    _bounds("req", "ttl", [0, MAX_SEQ], [-1, MAX_SEQ + 1])
    _bounds("alarm", "slot", [None, 0, 2], [3, -1])
    m = _base("drop")
    m["slot"] = 3
    assert not _accepted(m)


def _code(n, c="A"):
    return c * n


def case_bound_window_codes():
    good = ["A03", "W_1.x-2", _code(16)]
    bad = ["", _code(17), "A:03", "A 03", "A/03", "A#", "窗口1", 3]
    _bounds("vote queue", "w", [None] + good, bad)
    _bounds("cfg", "w", [None] + good, bad)
    _bounds("req", "w", good, bad + [None])
    _bounds("queue", "to", [None] + good, bad)


def case_bound_ticket_staff_matter_and_ids():
    colon = ["A012", "A:0.1_2-3"]
    _bounds("vote drop queue", "tk", [None, _code(32)] + colon, ["", _code(33), "A 012", "A/1"])
    _bounds("req", "tk", [_code(32)] + colon, ["", _code(33), None])
    _bounds("queue", "staff", [None, "1001", _code(32)], ["", _code(33), "10 01", 1001])
    _bounds("queue", "m", [None, "370602-001-XK-0001", _code(64)], ["", _code(65), "XK/1"])
    ids = ["qs-20261123-000381", "ser-ttyUSB0-20261123093015-123456789", "r-8812", _code(64)]
    _bounds("queue", "id", ids, ["", _code(65), "q 1", None, 1])
    _bounds("req", "rq", ids, ["", _code(65), "r#1", None])
    _bounds("vote", "rq", [None] + ids, ["", _code(65), "r#1"])
    _bounds("vote hb ack", "d", [EV, _code(32)], ["", _code(33), "EV:A03", "EV A03"])
    _bounds("vote ack cfg", "b", [BOOT, "gw", _code(32)], ["", _code(33), "3f:2a"])


def case_bound_phone():
    good = [None, "13812345678", "+8613812345678", "01012345678", "12345", "+1234", _code(20, "9")]
    bad = ["", "1234", "+123", _code(21, "9"), "++12345", "138-1234-5678", "138 1234 5678"]
    bad += ["1381234567x", "\uff11\uff13\uff18\uff11\uff12", 13812345678, "12+345"]
    _bounds("queue", "ph", good, bad)


def case_bound_short_texts():
    _bounds("status", "fw", ["0.1.0", "sim-0.1", "", _code(32, "x")], [_code(33, "x"), 1])
    _bounds("hb", "st", ["idle", "requested", _code(16, "x")], [_code(17, "x")])
    _bounds("cfg", "lang", ["zh", "en", _code(8, "x")], [_code(9, "x")])
    _bounds("queue", "src", ["http", "serial", "mqtt", _code(16, "x")], [_code(17, "x")])


def case_bound_ota_signature_length_and_chunk_sizes():
    """ota sig: a code of 1..128 characters (the wire bounds its length only; the device's
    signature check refuses what is not a signature); cs, and fetch/blk n: 0..1024."""
    ota = {"v": 1, "k": "ota", "d": EV, "b": "gw", "rel": "0.2.0", "mf": "{}", "sig": "0" * 128}
    assert _accepted(ota)
    for sig in ["0123456789abcdef" * 8, "F" * 128, "a", "not-hex_at.all"]:
        ota["sig"] = sig
        assert _accepted(ota) and wire.decode(wire.encode(ota)) == ota
    for sig in ["", "0" * 129, "0" * 126 + "::", "ab cd", 5, None]:
        ota["sig"] = sig
        assert not _accepted(ota), sig
    ota["sig"] = "0" * 128
    for cs, ok in [(0, True), (1024, True), (1025, False), (-1, False)]:
        ota["cs"] = cs
        assert _accepted(ota) == ok, cs
    fetch = {"v": 1, "k": "fetch", "d": EV, "b": BOOT, "rel": "0.2.0", "off": 0}
    for n, ok in [(0, True), (1, True), (1024, True), (1025, False), (-1, False)]:
        fetch["n"] = n
        assert _accepted(fetch) == ok, n


def case_bound_lists():
    _bounds(
        "vote",
        "fl",
        [[], ["paused", "no_request"], list(wire.VOTE_FLAGS)],
        [
            ["misuse", "misuse"],
            ["misuse", "nope"],
            "misuse",
            list(wire.VOTE_FLAGS) + ["misuse"],
        ],
    )
    levels = list(wire.LEVELS)
    _bounds(
        "cfg",
        "levels",
        [levels, ["satisfied"], list(wire.BALLOT_SLOTS)],
        [
            [],
            levels + ["satisfied"],
            ["satisfied", "satisfied"],
            [1, 2, 3],
            None,
        ],
    )
    _bounds(
        "ack",
        "x",
        [[], [MAX_SEQ], list(range(1, 101))],
        [
            list(range(1, 102)),
            [0],
            [MAX_SEQ + 1],
            [19, 19],
            [True],
            [[19]],
        ],
    )


def case_bound_staff_object():
    _bounds(
        "cfg req",
        "staff",
        [None, {"id": "1001"}, {"id": "A:1", "name": "张三"}],
        [
            {},
            {"name": "张三"},
            {"id": "1001", "name": "张三", "photo": "x"},
            {"id": "1001", "title": "x"},
            {"id": "1001", "name": "张" * 65},
            {"id": "1001", "name": None},
            {"id": "10 01"},
            {"id": _code(33)},
            "1001",
            ["1001"],
        ],
    )
    _bounds("cfg req", "staff", [{"id": "1001", "name": "张" * 64}], [])


def case_bound_telemetry_metrics():
    many = {}
    for i in range(32):
        many["m%d" % i] = i
    scalars = {"a": None, "b": True, "c": -MAX_SEQ, "d": MAX_SEQ, "f": "ntp", "g": "x" * 64}
    _bounds("tele", "m", [{}, many, scalars], [])
    too_many = dict(many)
    too_many["m32"] = 1
    bad = [too_many, [], "x", {"a": [1]}, {"a": {"b": 1}}, {"a": MAX_SEQ + 1}, {"a": -MAX_SEQ - 1}]
    bad += [{"a": "x" * 65}, {"": 1}, {"a b": 1}, {"k" * 33: 1}, {"a": 1.5}]
    _bounds("tele", "m", [], bad)
    for x in [float("nan"), float("inf")]:  # CPython's json reads NaN and Infinity
        m = _base("tele")
        m["m"] = {"a": x}
        assert _raises(wire.validate, m), x


def _vote_with(extra):
    return (
        '{"v":1,"k":"vote","d":"EV","b":"x","s":1,"t":null,"up":1,"lv":"satisfied"' + extra + "}"
    ).encode()


def case_bound_nesting():
    assert wire.decode(_vote_with(',"zz":' + "[" * 15 + "]" * 15))["zz"]
    assert _raises(wire.decode, _vote_with(',"zz":' + "[" * 16 + "]" * 16))
    assert _raises(wire.decode, _vote_with(',"zz":' + '{"a":' * 16 + "1" + "}" * 16))
    assert _raises(wire.decode, _vote_with(',"zz":' + "[" * 1000 + "]" * 1000))
    assert _raises(wire.decode, _vote_with(',"zz":' + "[" * 1990))  # and unclosed
    assert _raises(wire.decode, b"[" * 2048)
    assert _raises(wire.decode, b"{" * 3000)  # over the size cap as well
    m = _base("vote")
    m["zz"] = [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]
    assert _raises(wire.encode, m)  # encode never writes what decode would refuse


def case_bound_every_field_of_every_kind_has_one():
    """No spec type is left unbounded: no bare int, str, list or object type remains."""
    for kind in wire.SCHEMAS:
        for f in wire.SCHEMAS[kind].split():
            if f != "|":
                t = f.split(":")[1].lstrip("?")
                assert t not in ["s", "l", "o", "id", "seq", "p"], (kind, f)


def all_cases():
    return [(name, fn) for name, fn in sorted(globals().items()) if name.startswith("case_")]
