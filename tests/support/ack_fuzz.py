"""Steps, hostile messages and the oracle of the ack-promise fuzz test.

An example is a list of steps that hypothesis draws (`steps()`); `Example.run` plays them against
a running `Hall` with fresh device boots, then `Example.check` returns every broken promise:
- an event the contract calls valid is acked end to end (the gateway keeps acking);
- every acked vote or drop (valid or not) is on the server exactly once;
- a valid vote is counted iff docs/gateway.md says so (the first press answering its request,
  for the device's bound window and that ticket); a ballot drop with a fresh ticket counts;
- nothing hostile is counted; nothing the harness did not send appears;
- each transport answers bad input the documented way (HTTP 4xx or `rejected`, serial `$NAK`,
  MQTT `queue/err`), and the gateway's /health still answers.
Everything here is what docs/protocol.md, docs/gateway.md and docs/serial-protocol.md promise,
plus the bounds of the lead's decisions for issue #11.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from firmware import wire, wire_gw
from gateway.queue_serial import format_line
from tests.support.fuzz_device import FuzzDevice, new_boot
from tests.support.fuzz_hall import BALLOT_BOX, HALL, WINDOWS, Hall

TZ = ZoneInfo("Asia/Shanghai")
# Memory per message is O(1) in the values it carries (issue #11): a generous bound on the
# gateway's peak resident set, far below what one expanded range of 10**7 seqs takes.
PEAK_RSS_MB = 400
_ids = itertools.count(1)

HOSTILE = (
    "vote_far_t",
    "vote_huge_s",
    "gone_huge",
    "gone_above_known",
    "hb_tail",
    "hb_huge_s",
    "vote_invented",
    "hijack",
    "wrong_device",
    "bad_kind",
    "garbage",
    "unknown_device",
    "downlink_forgery",
    "mqtt_http_shape_finish",
    "mqtt_bad_queue",
    "http_future_t",
    "http_deep",
    "http_garbage",
    "http_oversized",
    "serial_bad",
)
ADAPTERS = ("http", "mqtt", "serial")
Step = tuple[Any, ...]


def steps(hostile: bool = True, only: tuple[str, ...] = ()) -> st.SearchStrategy[list[Step]]:
    """Interleavings of valid steps and (when `hostile`) hostile ones, of the kinds in `only` if
    given; always ends with a valid rating, so every example asks "does the gateway still ack
    and deliver after all that?"."""
    w = st.sampled_from(WINDOWS)
    rate = st.tuples(
        st.just("rate"), w, st.sampled_from(ADAPTERS), st.integers(1, 2), st.booleans()
    )
    drop = st.tuples(st.just("drop"), st.booleans(), st.integers(0, 2))
    alarm = st.tuples(st.just("alarm"), st.sampled_from(["jam", "jam_cleared", "tamper"]))
    bad = st.tuples(st.just("h"), st.sampled_from(only or HOSTILE), st.integers(0, 5))
    one = st.one_of(rate, rate, drop, alarm, bad, bad) if hostile else st.one_of(rate, drop, alarm)
    last = st.tuples(st.just("rate"), w, st.sampled_from(ADAPTERS), st.just(1), st.just(True))
    return st.tuples(st.lists(one, min_size=1, max_size=6), last).map(lambda p: [*p[0], p[1]])


@dataclass
class Sent:
    """A sequenced event the harness sent, and what the contract says must become of it."""

    key: str
    kind: str
    why: str
    must_ack: bool  # valid by the contract: the device keeps it until acked
    counted: bool | None = None  # expected server `counted` (None: only "exactly once if acked")
    window: str | None = None
    ticket: str | None = None
    device: str = ""
    boot: str = ""
    seq: int = 0
    must_not_exist: bool = False


@dataclass
class Example:
    hall: Hall
    sent: list[Sent] = field(default_factory=list)
    checks: list[Callable[[], str | None]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    boots: set[str] = field(default_factory=set)
    naks_expected: int = 0
    naks0: int = 0

    # ---- helpers --------------------------------------------------------------------------

    def dev(self, window_or_id: str) -> FuzzDevice:
        d = window_or_id if window_or_id in self.hall.devices else f"EV-{window_or_id}"
        return self.hall.devices[d]

    def raw(self, device: str, channel: str, payload: bytes | dict[str, Any]) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        topic = f"{wire.TOPIC_ROOT}/{HALL}/dev/{device}/{channel}"
        assert self.hall.spy is not None
        self.hall.spy.attack(topic, data, qos=0 if channel in ("hb", "tele") else 1)

    def one_shot(self, msg: dict[str, Any], why: str, topic_device: str | None = None) -> None:
        """A hostile sequenced event on its own boot, sent once (no outbox). It must never be
        counted; one on another device's topic must not even be stored."""
        self.boots.add(msg["b"])
        self.raw(topic_device or msg["d"], msg["k"], msg)
        key = f"{msg['d']}:{msg['b']}:{msg['s']}"
        self.sent.append(
            Sent(key, msg["k"], why, False, counted=False, device=msg["d"], boot=msg["b"],
                 seq=msg["s"], must_not_exist=topic_device is not None)
        )  # fmt: skip

    def device_event(self, dev: FuzzDevice, build: Any, why: str, **expect: Any) -> str:
        boot, s, msg = dev.send_event(build)
        self.boots.add(boot)
        key = f"{dev.device}:{boot}:{s}"
        self.sent.append(
            Sent(key, msg["k"], why, True, device=dev.device, boot=boot, seq=s, **expect)
        )
        return key

    def finish(self, window: str, adapter: str, tk: str) -> dict[str, Any] | None:
        """A valid finish over one adapter; the rating request the evaluator gets, or None."""
        n, now = next(_ids), int(time.time())
        if adapter == "http":
            ev = {"id": f"fz-h-{n}", "ev": "finish", "t": now, "w": window, "tk": tk}
            r = self.hall.post_queue(json.dumps({"events": [{**ev, "staff": "1001"}]}).encode())
            if r is None or r.status_code != 200 or r.json().get("accepted") != 1:
                self.failures.append(f"valid HTTP finish {ev} not accepted: {r and r.text[:200]}")
                return None
        elif adapter == "mqtt":
            ev = wire_gw.queue_event(f"fz-m-{n}", "finish", now, window, tk, "1001", src="mqtt")
            assert self.hall.spy is not None
            self.hall.spy.publish(wire_gw.queue_topic(HALL), wire.encode(ev))
        else:
            stamp = datetime.fromtimestamp(now, TZ).strftime("%Y%m%d%H%M%S")
            line = format_line("FINISH", window, tk, S="1001", N=n, T=stamp)
            self.hall.write_serial(line.encode())
        req = self.dev(window).wait_request(tk, 10)
        if req is None:
            self.failures.append(f"valid finish of {tk} at {window} over {adapter}: no request")
        return req

    def press(self, at: str, req: dict[str, Any], t: int | None, why: str, **ex: Any) -> str:
        """The evaluator at window `at` presses, echoing `req` (a real or invented request)."""
        dev = self.dev(at)

        def build(b: str, s: int) -> dict[str, Any]:
            return wire.vote(dev.device, b, s, "satisfied", t, s * 100, rq=req["rq"],
                             tk=req["tk"], w=req["w"])  # fmt: skip

        return self.device_event(dev, build, why, **ex)

    # ---- valid steps ----------------------------------------------------------------------

    def run(self, plan: list[Step]) -> None:
        for dev in self.hall.devices.values():
            dev.reboot()
            self.boots.add(dev.boot)
        self.naks0 = self._naks()
        for step in plan:
            if step[0] == "h":
                getattr(self, "h_" + step[1])(step[2])
            else:
                getattr(self, "s_" + step[0])(*step[1:])

    def s_rate(self, window: str, adapter: str, presses: int, clock: bool) -> None:
        tk = f"T{next(_ids)}"
        req = self.finish(window, adapter, tk)
        if req is None:
            return
        for i in range(presses if clock else 1):
            t = int(req["t"]) + 1 + i if clock else None
            why = f"valid press {i + 1} answering {tk} ({adapter})"
            self.press(window, req, t, why, counted=i == 0, window=window, ticket=tk)

    def s_drop(self, with_ticket: bool, slot: int) -> None:
        tk = f"D{next(_ids)}" if with_ticket else None
        t = int(time.time())
        dev = self.hall.devices[BALLOT_BOX]
        self.device_event(
            dev, lambda b, s: wire.drop(dev.device, b, s, slot, t, s * 100, tk=tk),
            f"valid ballot drop tk={tk}", counted=True,
        )  # fmt: skip

    def s_alarm(self, name: str) -> None:
        dev = self.hall.devices[BALLOT_BOX]
        self.device_event(
            dev, lambda b, s: wire.alarm(dev.device, b, s, name, None, s * 100), "valid alarm"
        )

    # ---- hostile steps (p picks a variant) ------------------------------------------------

    def _vote(self, d: str, b: str, s: int, t: Any, **kw: Any) -> dict[str, Any]:
        m = {"v": 1, "k": "vote", "d": d, "b": b, "s": s, "t": t, "up": 1, "lv": "satisfied"}
        return {**m, **kw}

    def h_vote_far_t(self, p: int) -> None:
        t = (253402272000, 10**15)[p % 2]
        self.one_shot(self._vote(f"EV-{WINDOWS[p % 3]}", new_boot(), 1, t), f"vote t={t}")

    def h_vote_huge_s(self, p: int) -> None:
        s = (2**31 - 1, 2**30)[p % 2]
        m = self._vote(f"EV-{WINDOWS[p % 3]}", new_boot(), s, int(time.time()))
        self.one_shot(m, f"vote s={s} in a fresh boot")

    def h_gone_huge(self, p: int) -> None:
        to = (2147483646, 10_000_000, 3 * 65536 + 1)[p % 3]
        self.raw("EV-A01", "gone", wire.gone("EV-A01", new_boot(), 1, to))

    def h_gone_above_known(self, p: int) -> None:
        dev = self.dev(WINDOWS[p % 3])
        lo = dev.seq + 1
        self.raw(dev.device, "gone", wire.gone(dev.device, dev.boot, lo, lo + p % 3))

    def h_hb_tail(self, p: int) -> None:
        dev = self.dev(WINDOWS[p % 3])
        lo = dev.seq + 1
        dev.forget(1 + p % 2)
        hi = dev.seq
        dev.heartbeat()

        def covered() -> bool:
            return all(any(a <= s <= b for a, b in dev.resends) for s in range(lo, hi + 1))

        # Before anything else is sent: the heartbeat alone must reveal the tail gap.
        if not _wait(covered, 5):
            self.failures.append(f"heartbeat s={hi} of {dev.device}:{dev.boot}: no resend")

    def h_hb_huge_s(self, p: int) -> None:
        s = (2**31 - 1, 2**30 - 1, 2**30)[p % 3]
        d = f"EV-{WINDOWS[p % 3]}"
        hb = {"v": 1, "k": "hb", "d": d, "b": new_boot(), "t": None, "up": 1, "s": s, "ob": 0}
        self.raw(d, "hb", hb)

    def h_vote_invented(self, p: int) -> None:
        own = WINDOWS[p % 3]
        w = (WINDOWS[(p + 1) % 3], "NEWWIN", own)[p // 2 % 3]
        n = next(_ids)
        t = int(time.time())
        fake = {"rq": f"inv-{n}", "tk": f"I{n}", "w": w}
        self.press(own, fake, t, f"invented request, w={w}", counted=False)

    def h_hijack(self, p: int) -> None:
        target, thief = WINDOWS[p % 3], WINDOWS[(p + 1) % 3]
        tk = f"T{next(_ids)}"
        req = self.finish(target, "http", tk)
        if req is None:
            return
        t = int(req["t"]) + 1
        order = [("thief", thief), ("legit", target)][:: 1 if p % 2 else -1]
        for who, w in order:
            if who == "thief":  # pressed first by its clock: a hint must not win 一次一评
                self.press(w, req, t - 1, f"{w} echoes {target}'s request {tk}", counted=False)
            else:
                why = f"valid press answering {tk} (hijack attempt from {thief})"
                self.press(w, req, t, why, counted=True, window=target, ticket=tk)

    def h_wrong_device(self, p: int) -> None:
        topic_dev, payload_dev = f"EV-{WINDOWS[p % 3]}", f"EV-{WINDOWS[(p + 1) % 3]}"
        m = self._vote(payload_dev, new_boot(), 1, int(time.time()))
        self.one_shot(m, f"payload d={payload_dev} on {topic_dev}'s topic", topic_device=topic_dev)

    def h_bad_kind(self, p: int) -> None:
        base = self._vote("EV-A02", new_boot(), 1, int(time.time()))
        bad = [
            {**base, "k": "bogus"},
            {**base, "v": 2},
            {k: v for k, v in base.items() if k != "lv"},
            {**base, "lv": "great"},
            {**base, "k": "drop", "slot": 0},
            {**base, "s": "1"},
        ][p]
        self.raw("EV-A02", "vote", bad)

    def h_garbage(self, p: int) -> None:
        ch = ("vote", "drop", "alarm", "gone", "status", "hb", "tele")[p]
        deep = b"[" * 1024 + b"]" * 1024
        big = json.dumps({**self._vote("EV-A03", new_boot(), 1, None), "pad": "x" * 3000})
        for data in (b"", b"not json", b"\xff\xfe\x00", deep, big.encode(), b"{" * 100_000):
            self.raw("EV-A03", ch, data)

    def h_unknown_device(self, p: int) -> None:
        self.one_shot(self._vote("EV-Z99", new_boot(), 1, int(time.time())), "unknown device")

    def h_downlink_forgery(self, p: int) -> None:
        d, b = f"EV-{WINDOWS[p % 3]}", new_boot()
        self.raw(d, "ack", {"v": 1, "k": "ack", "d": d, "b": b, "n": 2**31 - 1})
        self.raw(d, "resend", {"v": 1, "k": "resend", "d": d, "b": b, "from": 1, "to": 2**31 - 1})
        for ch in ("req", "cfg", "ack"):
            self.raw(d, ch, b"\x00garbage" if p % 2 else b"[" * 1500)
        assert self.hall.spy is not None
        for tail in ("queue/err", "gw/status"):
            self.hall.spy.attack(f"{wire.TOPIC_ROOT}/{HALL}/{tail}", b'{"st":"offline"}')

    def h_mqtt_http_shape_finish(self, p: int) -> None:
        window, n = WINDOWS[p % 3], next(_ids)
        ev = {"id": f"fz-mh-{n}", "ev": "finish", "t": int(time.time()), "w": window}
        ev["tk"] = tk = f"T{n}"
        assert self.hall.spy is not None
        self.hall.spy.attack(wire_gw.queue_topic(HALL), json.dumps(ev).encode())
        req = self.dev(window).wait_request(tk, 6)
        if req is None:
            self.failures.append(f"HTTP-shaped finish {ev} on the MQTT queue topic: no request")
            return
        why = f"valid press answering {tk} (finish without v/k over MQTT)"
        self.press(window, req, int(req["t"]) + 1, why, counted=True, window=window, ticket=tk)

    def h_mqtt_bad_queue(self, p: int) -> None:
        eid = f"fz-mb-{next(_ids)}"
        ev = {"v": 1, "k": "queue", "id": eid, "ev": "finish", "t": int(time.time()), "w": "A01"}
        bad: list[dict[str, Any]] = [
            {"t": 10**15},
            {"t": 253402272000},
            {"ev": "x"},
            {"w": "W" * 40},
        ]
        ev.update(bad[p % 4])
        assert self.hall.spy is not None
        spy = self.hall.spy
        spy.attack(wire_gw.queue_topic(HALL), json.dumps(ev).encode())

        def reported() -> str | None:
            ok = _wait(lambda: eid in spy.queue_error_ids(), 6)
            return None if ok else f"bad MQTT queue event {ev} not reported on queue/err"

        self.checks.append(reported)

    def h_http_future_t(self, p: int) -> None:
        t = (10**15, 253402272000)[p % 2]
        ev = {"id": f"fz-hf-{next(_ids)}", "ev": "finish", "t": t, "w": "A02", "tk": "F1"}
        r = self.hall.post_queue(json.dumps([ev]).encode())
        if r is None or not (r.status_code == 400 or _rejected_only(r)):
            got = "no answer" if r is None else f"{r.status_code} {r.text[:200]}"
            self.failures.append(f"HTTP queue event with t={t} was not rejected: {got}")

    def h_http_deep(self, p: int) -> None:
        depth = (200_000, 5_000)[p % 2]
        r = self.hall.post_queue(b"[" * depth + b"]" * depth, timeout=10)
        if r is None or r.status_code != 400:
            got = "no answer" if r is None else f"{r.status_code} {r.text[:200]}"
            self.failures.append(f"HTTP body of {depth}-deep JSON: want 400, got {got}")

    def h_http_garbage(self, p: int) -> None:
        r = self.hall.post_queue((b"not json", b"\xff\xfe{", b'{"events": [')[p % 3])
        if r is None or r.status_code != 400:
            got = "no answer" if r is None else f"{r.status_code}"
            self.failures.append(f"HTTP body that is not JSON: want 400, got {got}")

    def h_http_oversized(self, p: int) -> None:
        body = json.dumps({"events": [{"id": "x", "pad": "y" * (1 << 20)}]}).encode()
        r = self.hall.post_queue(body)
        if r is None or not 400 <= r.status_code < 500:
            got = "no answer" if r is None else f"{r.status_code}"
            self.failures.append(f"HTTP body over 1 MiB: want 4xx, got {got}")

    def h_serial_bad(self, p: int) -> None:
        good = format_line("FINISH", "A01", "S1").strip()
        stamp = "99991231235959" if p % 2 else "21000101000000"
        lines = [
            good[:-2].encode() + b"00\r\n",  # bad checksum
            format_line("EXPLODE", "A01").encode(),
            format_line("FINISH", "A01").encode(),  # too few fields
            b"$" + b"X" * 300 + b"*00\r\n",
            "$FINISH,A01,票*00\r\n".encode(),
            format_line("FINISH", "A01", f"S{next(_ids)}", N=next(_ids), T=stamp).encode(),
        ]
        self.hall.write_serial(lines[p])
        self.naks_expected += 1

    # ---- the oracle -----------------------------------------------------------------------

    def _naks(self) -> int:
        return sum(1 for x in list(self.hall.serial_in) if x.startswith("$NAK"))

    def check(self) -> list[str]:
        fails = list(self.failures)
        left = self.hall.quiesce(20)
        if left:
            fails.append(f"valid events never acked (the gateway stopped acking?): {left}")
        for c in self.checks:
            msg = c()
            if msg:
                fails.append(msg)
        if self.naks_expected and not _wait(
            lambda: self._naks() - self.naks0 >= self.naks_expected, 6
        ):
            got = self._naks() - self.naks0
            fails.append(f"bad serial lines: {self.naks_expected} sent, {got} $NAK answers")
        spy = self.hall.spy
        assert spy is not None
        acked = [
            s for s in self.sent
            if s.kind in ("vote", "drop") and spy.acked(s.device, s.boot, s.seq)
        ]  # fmt: skip
        want = {s.key for s in acked}
        _wait(lambda: want <= set(self.hall.evaluations()), 20)
        fails += self._compare(acked, settle=True)
        if not self.hall.healthy():
            fails.append("gateway /health does not answer after the example")
        peak = self.hall.gateway_peak_rss_mb()
        if peak > PEAK_RSS_MB:
            fails.append(f"gateway peak RSS {peak} MB > {PEAK_RSS_MB} MB (a range was expanded?)")
        return fails

    def _compare(self, acked: list[Sent], settle: bool) -> list[str]:
        def problems() -> list[str]:
            rows = self.hall.evaluations()
            out: list[str] = []
            for s in acked:
                if len(rows.get(s.key, [])) != 1:
                    n = len(rows.get(s.key, []))
                    out.append(f"acked {s.key} ({s.why}) is on the server {n} times")
            for s in self.sent:
                got = rows.get(s.key, [])
                if s.must_not_exist and got:
                    out.append(f"{s.key} ({s.why}) must be rejected, is on the server")
                if len(got) != 1 or s.counted is None:
                    continue
                r = got[0]
                if bool(r["counted"]) != s.counted:
                    seen = f"flags={r['flags']!r}, window={r['window']}"
                    out.append(f"{s.key} ({s.why}): counted={bool(r['counted'])} ({seen})")
                elif s.counted and s.window and (r["window"], r["ticket"]) != (s.window, s.ticket):
                    out.append(f"{s.key} ({s.why}) counted for {r['window']}/{r['ticket']}")
            sent = {s.key for s in self.sent}
            for key in rows:
                parts = key.split(":")
                if len(parts) == 3 and parts[1] in self.boots and key not in sent:
                    out.append(f"{key} is on the server but was never sent")
            return out

        found: list[str] = []

        def settled() -> bool:
            found[:] = problems()
            return not found

        _wait(settled, 8 if settle else 0.1)
        return found


def _rejected_only(r: Any) -> bool:
    try:
        body = r.json()
    except ValueError:
        return False
    return r.status_code == 200 and body.get("accepted") == 0 and len(body.get("rejected")) == 1


def _wait(pred: Callable[[], Any], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if pred():
                return True
        except Exception:  # the thing polled may be briefly unreadable (a DB being written)
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


RECOVERED = '"event": "recovered"'  # the gateway's log line after its journal recovery


def _more_recoveries(hall: Hall, before: int) -> bool:
    return hall.gateway_log_count(RECOVERED) > before


def restart_check(hall: Hall) -> list[str]:
    """Terminate and start the gateway, then kill -9 it and start it again: it comes up, /health
    answers, its journal recovers, a new vote is acked and delivered, and nothing is doubled."""
    fails: list[str] = []
    assert hall.gateway is not None
    before = hall.evaluations()
    for how in ("SIGTERM", "SIGKILL"):
        recovered = hall.gateway_log_count(RECOVERED)
        if how == "SIGTERM":
            hall.gateway.stop()
        else:
            hall.gateway.kill()
        try:
            hall.start_gateway()
        except TimeoutError:
            tail = hall.gateway.log()[-1500:]
            return [*fails, f"gateway did not come up after {how}; log tail:\n{tail}"]
        if not _wait(partial(_more_recoveries, hall, recovered), 20):
            fails.append(f"after {how}: no 'recovered' event in the gateway log")
        ex = Example(hall)
        ex.run([("rate", "A01", "http", 1, True)])
        fails += [f"after {how}: {f}" for f in ex.check()]
    after = hall.evaluations()
    for key, rows in before.items():
        if len(after.get(key, [])) != 1:
            fails.append(f"{key}: {len(after.get(key, []))} rows after the restarts")
        elif bool(after[key][0]["counted"]) != bool(rows[0]["counted"]):
            fails.append(f"{key}: counted changed across the restarts")
    return fails
