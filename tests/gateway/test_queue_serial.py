"""The serial queue protocol: the pure parser, then pyserial loop:// and a real socat pty pair."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import serial

from firmware import wire
from gateway.journal import Journal
from gateway.metrics import GatewayMetrics
from gateway.pipeline import NullDownlink, Pipeline
from gateway.queue_serial import (
    QueueLine,
    SerialLineError,
    SerialQueueReader,
    checksum,
    format_line,
    nak_reason,
    parse_line,
    to_queue_event,
)
from tests.conftest import require_service
from tests.gateway.conftest import gateway_config, wait_for

TZ = ZoneInfo("Asia/Shanghai")


# ---- pure ------------------------------------------------------------------------------------


def test_checksum_is_nmea_xor() -> None:
    assert checksum("LOGIN,A03,1001") == f"{_xor(b'LOGIN,A03,1001'):02X}"
    assert (
        format_line("LOGIN", "A03", "1001") == f"$LOGIN,A03,1001*{checksum('LOGIN,A03,1001')}\r\n"
    )


def _xor(b: bytes) -> int:
    x = 0
    for c in b:
        x ^= c
    return x


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (format_line("LOGIN", "A03", "1001"), QueueLine("login", "A03", staff="1001")),
        (format_line("LOGOUT", "A03"), QueueLine("logout", "A03")),
        (format_line("LOGOUT", "A03", "1001"), QueueLine("logout", "A03", staff="1001")),
        (
            format_line("CALL", "A03", "A012", M="370000-1"),
            QueueLine("call", "A03", tk="A012", m="370000-1"),
        ),
        (format_line("RECALL", "A03", "A012"), QueueLine("recall", "A03", tk="A012")),
        (
            format_line("FINISH", "A03", "A012", N=42, T="20261123101500", S="1001"),
            QueueLine("finish", "A03", tk="A012", staff="1001", n=42, time="20261123101500"),
        ),
        (
            format_line("TRANSFER", "A03", "A012", "B01"),
            QueueLine("transfer", "A03", tk="A012", to="B01"),
        ),
        (format_line("PAUSE", "A03"), QueueLine("pause", "A03")),
        (format_line("RESUME", "A03").rstrip("\r\n"), QueueLine("resume", "A03")),
        (format_line("pause", "A03").lower(), QueueLine("pause", "a03")),  # hex digits any case
    ],
)
def test_every_sentence_parses(line: str, expected: QueueLine) -> None:
    assert parse_line(line) == expected
    assert parse_line(line.encode()) == expected


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("LOGIN,A03,1001*00", "start with"),
        ("$LOGIN,A03,1001", "checksum"),
        ("$LOGIN,A03,1001*5", "checksum"),
        (format_line("LOGIN", "A03", "1001").replace("1001", "1002"), "checksum mismatch"),
        (format_line("DANCE", "A03"), "unknown sentence"),
        (format_line("LOGIN", "A03"), "takes 2[.][.]2"),
        (format_line("PAUSE", "A03", "x", "y"), "takes 1[.][.]1"),
        (format_line("CALL", "A03", "A 12"), "bad tk"),
        (format_line("CALL", "A03", "A12", Q=1), "unknown option"),
        (format_line("CALL", "A03", "A12", N="x"), "bad line number"),
        (format_line("CALL", "A03", "A12", T="2026"), "bad time"),
        ("$" + "X" * 300 + "*00", "too long"),
        (b"$LOGIN,A03,\xff*00", "not ASCII"),
    ],
)
def test_malformed_lines_say_why(line: str | bytes, reason: str) -> None:
    with pytest.raises(SerialLineError, match=reason):
        parse_line(line)


def test_line_becomes_a_wire_queue_event_with_stable_id_when_numbered() -> None:
    q = parse_line(format_line("FINISH", "A03", "A012", N=7, T="20261123100000"))
    a = to_queue_event(q, "ser-ttyS0", 111.0, TZ)
    b = to_queue_event(q, "ser-ttyS0", 999.0, TZ)
    assert a == b
    assert a["t"] == 1795399200 and a["ev"] == "finish" and a["w"] == "A03" and a["tk"] == "A012"
    unnumbered = parse_line(format_line("PAUSE", "A03"))
    assert (
        to_queue_event(unnumbered, "s", 1795399201.0, TZ)["id"]
        != to_queue_event(unnumbered, "s", 1795399202.0, TZ)["id"]
    )
    assert to_queue_event(unnumbered, "s", 1795399200.5, TZ)["t"] == 1795399200


def test_a_line_outside_the_wire_bounds_is_a_bad_line_not_a_crash() -> None:
    """A time before 2000 or a window code longer than 16 passes the line grammar but not the
    wire bounds (docs/protocol.md, Bounds): the reader answers it as a bad line."""
    for line in [
        format_line("FINISH", "A03", "A012", N=7, T="19991231235959"),
        format_line("FINISH", "W" * 17, "A012", N=8, T="20261123100000"),
    ]:
        with pytest.raises(wire.WireError, match="field"):  # the reader answers it $NAK
            to_queue_event(parse_line(line), "ser-ttyS0", 1795399200.0, TZ)


def test_a_finish_line_carries_the_citizens_phone_as_p() -> None:
    line = format_line("FINISH", "A03", "A012", N=9, T="20261123100000", P="13812345678")
    q = parse_line(line)
    assert q == QueueLine("finish", "A03", tk="A012", ph="13812345678", n=9, time="20261123100000")
    assert to_queue_event(q, "ser-ttyS0", 1795399200.0, TZ)["ph"] == "13812345678"
    with pytest.raises(SerialLineError, match="bad P value"):  # no "+" in the line grammar
        parse_line(format_line("FINISH", "A03", "A012", P="+8613812345678"))
    with pytest.raises(wire.WireError, match="field ph"):  # 5..20 digits (wire Bounds)
        to_queue_event(
            parse_line(format_line("FINISH", "A03", "A012", P="1234")), "s", 1795399200.0, TZ
        )


# ---- real ports ------------------------------------------------------------------------------


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    cfg = gateway_config(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    p = Pipeline(cfg, Journal(cfg.journal_path), NullDownlink())
    stop = threading.Event()
    t = threading.Thread(target=p.run, args=(stop,), daemon=True)
    t.start()
    yield p
    stop.set()
    t.join(5)
    p.close()
    p.journal.close()


def queue_ids(p: Pipeline) -> list[str]:
    j = Journal(p.cfg.journal_path)
    try:
        return [r[0] for r in j.db.execute("SELECT id FROM queue_events ORDER BY received_at")]
    finally:
        j.close()


def lines() -> list[str]:
    return [
        format_line("LOGIN", "A03", "1001", N=1, T="20261123100000"),
        "garbage that is no line\r\n",
        format_line("CALL", "A03", "A012", N=2, T="20261123100100"),
        format_line("CALL", "A03", "A012", N=2, T="20261123100100"),  # a repeat: same id
        format_line("FINISH", "A03", "A012", N=3, T="20261123100500").replace("*", "*F"),
        format_line("FINISH", "A03", "A012", N=4, T="20261123100600"),
    ]


@pytest.mark.timeout(60)
def test_reader_over_pyserial_loop(pipeline: Pipeline) -> None:
    metrics = GatewayMetrics()
    reader = SerialQueueReader("loop://", 9600, pipeline, metrics, TZ)
    reader.open()
    stop = threading.Event()
    t = threading.Thread(target=reader.run, args=(stop,), daemon=True)
    t.start()
    try:
        assert reader.ser is not None
        for line in lines():
            reader.ser.write(line.encode())
        wait_for(lambda: len(queue_ids(pipeline)) == 3, 20, "3 queue events journaled")
        assert reader.lines_bad == 2 and reader.lines_ok == 4
        assert metrics.malformed.labels("serial")._value.get() == 2
        # Journaled (stage 1) comes before attributed (stage 2, another thread): wait for both.
        wait_for(
            lambda: pipeline.attributor.staff_at("A03", 1795399200 + 600) == "1001",
            20,
            "the login attributed",
        )
    finally:
        stop.set()
        t.join(5)


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    exe = shutil.which("socat")
    require_service("socat", exe is not None, "apt-get install socat")
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    proc = subprocess.Popen(
        [str(exe), "-d", "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: a.exists() and b.exists(), 10, "socat ptys")
        yield str(a), str(b)
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.mark.timeout(60)
def test_reader_over_a_real_pty_pair_with_ack_and_nak(
    pipeline: Pipeline, pty_pair: tuple[str, str]
) -> None:
    gw_end, queue_end = pty_pair
    metrics = GatewayMetrics()
    reader = SerialQueueReader(gw_end, 115200, pipeline, metrics, TZ)
    stop = threading.Event()
    t = threading.Thread(target=reader.run, args=(stop,), daemon=True)
    t.start()
    controller = serial.Serial(queue_end, 115200, timeout=0.2)
    try:
        wait_for(lambda: reader.ser is not None, 10, "reader open")
        for line in lines():
            controller.write(line.encode())
            time.sleep(0.01)
        answers: list[str] = []

        def got_all() -> bool:
            answers.extend(x.decode().strip() for x in controller.readlines())
            return len(answers) >= 6

        wait_for(got_all, 20, "6 answers from the gateway")
        acks = sorted(a for a in answers if a.startswith("$ACK"))
        naks = [a for a in answers if a.startswith("$NAK")]
        assert acks == sorted(format_line("ACK", n).strip() for n in ("1", "2", "2", "4"))
        assert len(naks) == 2
        assert all(parse_ok(a) for a in answers)
        assert len(queue_ids(pipeline)) == 3
    finally:
        controller.close()
        stop.set()
        t.join(5)


def parse_ok(answer: str) -> bool:
    body, _, cs = answer[1:].partition("*")
    return checksum(body) == cs


def test_examples_in_the_protocol_doc_parse() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "serial-protocol.md").read_text()
    block = doc.split("## Examples\n```\n", 1)[1].split("```", 1)[0]
    examples = [line for line in block.splitlines() if line.startswith("$")]
    assert len(examples) == 6
    for line in examples:
        parse_line(line)


def test_nak_reasons_never_quote_the_value() -> None:
    """docs/serial-protocol.md: `<reason>` is the reason without the value it quotes."""
    lines = [
        format_line("DANCE", "A03"),
        format_line("CALL", "A03", "A12", Q=1),
        format_line("CALL", "A03", "A12", N="1000000000x"),
        format_line("CALL", "A03", "A12", T="20261302101500"),
        format_line("CALL", "A03", "A" * 40),
    ]
    for line in lines:
        with pytest.raises(SerialLineError) as e:
            q = parse_line(line)
            to_queue_event(q, "ser-ttyS0", 1795399200.0, TZ)
        reason = nak_reason(str(e.value))
        for quoted in ("DANCE", "Q", "1000000000x", "20261302101500", "A" * 40):
            assert quoted not in reason.replace("YYYYMMDDhhmmss", ""), (line, reason)
