"""Contract checks that run unchanged under CPython (via pytest) and MicroPython (via mp_runner.py).

Plain functions named case_* using assert only: the common subset of both interpreters.
"""

try:
    import wire  # MicroPython: firmware/ is on sys.path
    import wire_gw
except ImportError:
    from firmware import wire, wire_gw

EV = "EV-A03"
BOOT = "3f2a9c01"


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
        wire.vote(EV, BOOT, 1, "very_satisfied", 1, 2, flags=["misuse"]),
        wire.drop("BB-01", BOOT, 2, 2, None, 9, tk="A012"),
        wire.alarm("BB-01", BOOT, 3, "jam", 1, 2, slot=1),
        wire.gone(EV, BOOT, 4, 9),
        wire.status(EV, BOOT, "online", "evaluator", "0.1.0", 1),
        wire.status(EV, BOOT, "offline"),
        wire.heartbeat(EV, BOOT, None, 1000, 7, 2, heap=30000, rssi=-61, overflow=0),
        wire_gw.telemetry(EV, BOOT, 1, 2, {"wifi_reconnects": 1}),
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
    m = wire.vote(EV, BOOT, 1, "satisfied", 1, 2)
    m["lv"] = 2
    assert _raises(wire.encode, m)
    assert _raises(wire.decode, b'{"v":1,"k":"vote","d":"EV","b":"x","s":1,"t":1,"up":1,"lv":"2"}')


def case_drop_slot_must_match_level():
    m = wire.drop("BB-01", BOOT, 1, 0, 1, 2)
    m["lv"] = "dissatisfied"
    assert _raises(wire.encode, m)
    assert _raises(wire.encode, wire.drop("BB-01", BOOT, 1, 3, 1, 2))


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
    m = wire.encode(wire.vote(EV, BOOT, 1, "satisfied", 1, 2))
    hall, dev, msg = wire_gw.decode_for_topic("hr/v1/H1/dev/EV-A03/vote", m)
    assert (hall, dev, msg["s"]) == ("H1", EV, 1)
    assert _raises(wire_gw.decode_for_topic, "hr/v1/H1/dev/EV-A04/vote", m)
    assert _raises(wire_gw.decode_for_topic, "hr/v1/H1/dev/EV-A03/drop", m)


def case_encode_refuses_invalid():
    assert _raises(wire.encode, {"v": 1, "k": "vote"})
    assert _raises(wire.encode, wire.status(EV, BOOT, "sleeping"))


def all_cases():
    return [(name, fn) for name, fn in sorted(globals().items()) if name.startswith("case_")]
