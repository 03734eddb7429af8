"""MQTT 3.1.1 packet bytes and reconnect backoff."""

from mqtt_connect import subscribe_packet
from mqtt_link import _varlen, backoff_ms, publish_packet
from startup import connect_packet


def test_varlen():
    assert _varlen(0) == b"\x00"
    assert _varlen(127) == b"\x7f"
    assert _varlen(128) == b"\x80\x01"
    assert _varlen(16383) == b"\xff\x7f"
    assert _varlen(2097151) == b"\xff\xff\x7f"


def test_connect_with_will_user_password():
    p = connect_packet("d1", 30, ("t/s", b"off", 1, True), "u", "pw")
    body = b"\x00\x04MQTT\x04" + bytes((0x02 | 0x04 | 0x08 | 0x20 | 0x80 | 0x40,)) + b"\x00\x1e"
    body += b"\x00\x02d1" + b"\x00\x03t/s" + b"\x00\x03off" + b"\x00\x01u" + b"\x00\x02pw"
    assert p == b"\x10" + bytes((len(body),)) + body


def test_connect_minimal_is_clean_session():
    p = connect_packet("x", 10)
    assert p == b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x0a\x00\x01x"


def test_publish_qos0_and_qos1_retained():
    assert publish_packet("a/b", b"hi", 0, False, 0) == b"\x30\x07\x00\x03a/bhi"
    assert publish_packet("a/b", b"hi", 1, True, 5) == b"\x33\x09\x00\x03a/b\x00\x05hi"


def test_subscribe():
    assert subscribe_packet(1, b"\x00\x01a\x01") == b"\x82\x06\x00\x01\x00\x01a\x01"


def test_backoff_grows_caps_and_jitters():
    assert backoff_ms(0, 500, 30000, 0.5) == 500
    assert backoff_ms(3, 500, 30000, 0.5) == 4000
    assert backoff_ms(20, 500, 30000, 0.5) == 30000
    assert backoff_ms(3, 500, 30000, 0.0) == 3000
    assert backoff_ms(3, 500, 30000, 0.999) < 5000
