"""Queue-system events over a serial line (RS-232/RS-485): a checksummed text line protocol.

`parse_line` and `format_line` are pure; `SerialQueueReader` is the thin pyserial shell. The
protocol is specified in docs/serial-protocol.md. A malformed line is logged, counted and
answered with $NAK; it never stops the reader.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import serial

from firmware import wire, wire_gw
from gateway.logs import event
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Inbound, Pipeline

log = logging.getLogger("hallrate.gateway.serial")

MAX_LINE = 200
NAK_REASON_CHARS = 48
# Event → its positional fields (after the event name), in order; "?" marks an optional one.
SENTENCES: dict[str, tuple[str, ...]] = {
    "LOGIN": ("w", "staff"),
    "LOGOUT": ("w", "?staff"),
    "CALL": ("w", "tk"),
    "RECALL": ("w", "tk"),
    "FINISH": ("w", "tk"),
    "TRANSFER": ("w", "tk", "to"),
    "PAUSE": ("w",),
    "RESUME": ("w",),
}
OPTIONS = {"N": "n", "T": "time", "M": "m", "S": "staff", "P": "ph"}
_FIELD = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
_TIME = re.compile(r"^\d{14}$")


class SerialLineError(ValueError):
    """A line that does not follow docs/serial-protocol.md."""


@dataclass(frozen=True)
class QueueLine:
    ev: str  # lower-case wire.QUEUE_EVENTS name
    w: str
    tk: str | None = None
    staff: str | None = None
    to: str | None = None
    m: str | None = None
    ph: str | None = None  # the citizen's phone, digits only (P=)
    n: int | None = None  # the controller's line number, echoed in $ACK
    time: str | None = None  # YYYYMMDDhhmmss, hall local time


def checksum(body: str) -> str:
    """NMEA-style: XOR of every byte between '$' and '*', two upper-case hex digits."""
    x = 0
    for b in body.encode("ascii"):
        x ^= b
    return f"{x:02X}"


def format_line(ev: str, *fields: str, **opts: str | int) -> str:
    """Build a line: format_line("LOGIN", "A03", "1001", N=7) → '$LOGIN,A03,1001,N=7*hh\\r\\n'."""
    parts = [ev.upper(), *fields] + [f"{k}={v}" for k, v in opts.items()]
    body = ",".join(parts)
    return f"${body}*{checksum(body)}\r\n"


def parse_line(raw: str | bytes) -> QueueLine:
    """One line (with or without CR LF) → QueueLine, or SerialLineError."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            raise SerialLineError("line is not ASCII") from None
    line = raw.strip("\r\n")
    if len(line) > MAX_LINE:
        raise SerialLineError("line too long")
    if not line.startswith("$"):
        raise SerialLineError("line does not start with $")
    star = line.rfind("*")
    if star < 0 or len(line) - star != 3:
        raise SerialLineError("missing *hh checksum")
    body, given = line[1:star], line[star + 1 :].upper()
    if checksum(body) != given:
        raise SerialLineError(f"checksum mismatch: got {given}, computed {checksum(body)}")
    parts = body.split(",")
    name = parts[0].upper()
    if name not in SENTENCES:
        raise SerialLineError(f"unknown sentence: {name!r}")
    spec = SENTENCES[name]
    positional = [p for p in parts[1:] if "=" not in p]
    opts = [p for p in parts[1:] if "=" in p]
    required = sum(1 for s in spec if not s.startswith("?"))
    if not required <= len(positional) <= len(spec):
        raise SerialLineError(f"{name} takes {required}..{len(spec)} fields, got {len(positional)}")
    values: dict[str, Any] = {}
    for fname, value in zip(spec, positional, strict=False):
        if not _FIELD.match(value):
            raise SerialLineError(f"bad {fname.lstrip('?')} field: {value!r}")
        values[fname.lstrip("?")] = value
    for opt in opts:
        k, _, v = opt.partition("=")
        if k not in OPTIONS:
            raise SerialLineError(f"unknown option: {k!r}")
        if k == "N":
            if not v.isdigit() or len(v) > 9:
                raise SerialLineError(f"bad line number: {v!r}")
            values["n"] = int(v)
        elif k == "T":
            if not _TIME.match(v):
                raise SerialLineError(f"bad time, want YYYYMMDDhhmmss: {v!r}")
            values["time"] = v
        else:
            if not _FIELD.match(v):
                raise SerialLineError(f"bad {k} value: {v!r}")
            values[OPTIONS[k]] = v
    return QueueLine(ev=name.lower(), **values)


def to_queue_event(q: QueueLine, label: str, received_at: float, tz: ZoneInfo) -> dict[str, Any]:
    """QueueLine → a wire queue event (wire.WireError if the validator refuses it). The id is
    stable for a re-sent line that carries its time and line number (T=, N=), so the journal
    drops the copy; otherwise it is unique per receipt."""
    if q.time is not None:
        try:
            dt = datetime.strptime(q.time, "%Y%m%d%H%M%S").replace(tzinfo=tz)
        except ValueError:
            raise SerialLineError(f"bad time: {q.time!r}") from None
        t = int(dt.timestamp())
    else:
        t = int(received_at)
    if q.time is not None and q.n is not None:
        event_id = f"{label}-{q.time}-{q.n}"
    else:
        event_id = f"{label}-{int(received_at * 1000)}-{q.n if q.n is not None else 0}"
    fields = {"w": q.w, "tk": q.tk, "staff": q.staff, "m": q.m, "to": q.to, "ph": q.ph}
    obj = {"id": event_id, "ev": q.ev, "t": t, "src": label}
    obj.update((k, v) for k, v in fields.items() if v is not None)
    # The same normalisation and validator as an HTTP or MQTT event (wire.WireError if refused).
    return wire_gw.queue_event_from(obj)


def nak_reason(reason: str) -> str:
    """A reason as a $NAK field: the reason without the value it quotes, spaces and other
    characters outside A-Z a-z 0-9 _ . - as "_", at most NAK_REASON_CHARS."""
    short = reason.split(": ", 1)[0]
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", short)[:NAK_REASON_CHARS] or "malformed"


def port_label(port: str) -> str:
    """A short id-safe name for a port: /dev/ttyUSB0 → ser-ttyUSB0."""
    base = re.sub(r"[^A-Za-z0-9_.\-]", "_", port.rstrip("/").rsplit("/", 1)[-1])
    return ("ser-" + base)[:24]


class SerialQueueReader:
    """Reads lines from one serial port and feeds the pipeline; answers $ACK / $NAK."""

    def __init__(
        self, port: str, baudrate: int, pipeline: Pipeline, metrics: GatewayMetrics, tz: ZoneInfo
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.pipeline = pipeline
        self.metrics = metrics
        self.tz = tz
        self.label = port_label(port)
        self.ser: serial.SerialBase | None = None
        self._write_lock = threading.Lock()
        self.lines_ok = 0
        self.lines_bad = 0

    def open(self) -> None:
        self.ser = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.2)

    def run(self, stop: threading.Event) -> None:
        buf = b""
        backoff = 0.5
        while not stop.is_set():
            try:
                if self.ser is None:
                    self.open()
                    event(log, "serial_open", port=self.port, baudrate=self.baudrate)
                    backoff = 0.5
                assert self.ser is not None
                chunk = self.ser.read(256)
            except (serial.SerialException, OSError) as e:
                event(log, "serial_error", logging.WARNING, port=self.port, error=str(e))
                self._close()
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if not chunk:
                continue
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.handle(line)
            if len(buf) > MAX_LINE * 2:  # no newline in sight: garbage on the line
                self._malformed(buf[:40], "no line end")
                buf = b""
        self._close()

    def handle(self, raw: bytes) -> None:
        if not raw.strip(b"\r\n\x00 "):
            return
        if raw.startswith((b"$ACK,", b"$NAK,")):  # answers, ours or an echo on a shared bus
            return
        try:
            q = parse_line(raw)
        except SerialLineError as e:
            self._malformed(raw, str(e))
            return
        try:
            msg = to_queue_event(q, self.label, time.time(), self.tz)
        except (SerialLineError, wire.WireError) as e:  # a well-formed line, a refused event
            self._malformed(raw, str(e), q.n)
            return
        self.lines_ok += 1
        n = q.n

        def committed(_new: bool) -> None:
            if n is not None:
                self.write(format_line("ACK", str(n)))

        self.pipeline.submit(Inbound("queue", msg, f"serial:{self.port}", done=committed))

    def _malformed(self, raw: bytes, reason: str, n: int | None = None) -> None:
        self.lines_bad += 1
        self.metrics.malformed.labels("serial").inc()
        event(
            log,
            "malformed_line",
            logging.WARNING,
            port=self.port,
            reason=reason,
            line=raw[:80].decode("ascii", "replace"),
        )
        if n is None:
            self.write(format_line("NAK", nak_reason(reason)))
        else:
            self.write(format_line("NAK", nak_reason(reason), N=n))

    def write(self, line: str) -> None:
        with self._write_lock:
            if self.ser is None:
                return
            try:
                self.ser.write(line.encode("ascii"))
            except (serial.SerialException, OSError) as e:
                event(log, "serial_write_failed", logging.WARNING, port=self.port, error=str(e))

    def _close(self) -> None:
        if self.ser is not None:
            with contextlib.suppress(Exception):  # closing a port that is already dead
                self.ser.close()
            self.ser = None
