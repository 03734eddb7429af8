"""Run a simulated hall through the real chain: broker, server and gateway as separate processes,
Python device models (and optionally the real firmware), the queue system, faults; then wait for
quiescence, import the SMS / phone files and check the server against the ground truth."""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from simulator import (
    after_day,
    callback_citizens,
    checker,
    fault_actions,
    faults,
    online_citizens,
    sms_citizens,
    summary,
    vote_audit,
)
from simulator.device_models import DeviceModel, Fleet
from simulator.ground_truth import Ledger, compute, period
from simulator.hall_model import Event, HallSpec, Script, build
from simulator.queue_driver import HttpQueueDriver, SerialQueueDriver
from simulator.services import ADMIN, HallServices

REQ_WAIT_S = 2.0  # how long a citizen waits for 请评价 before pressing anyway
FW_REQ_WAIT_S = 15.0
UNPAUSE_WAIT_S = 15.0  # how long a press waits for a device that still shows 暂停服务
FW_PRESS_GAP_S = 0.35  # real seconds between presses on the real firmware (its debounce)


@dataclass
class SimOptions:
    windows: int = 5
    tickets: int = 500
    speed: float = 200.0
    seed: int = 7
    day: date | None = None
    faults: tuple[str, ...] = ()
    real_firmware: int = 0
    check: bool = True
    ledger: Path | None = None
    workdir: Path | None = None
    broker: str = "amqtt"  # amqtt | mosquitto
    mqtt_url: str | None = None
    queue: str = "http"  # http | serial
    ballot_boxes: int = 1
    progress: bool = True
    quiesce_timeout: float = 180.0
    micropython: str | None = None
    database_url: str | None = None
    hall: str = "H1"
    sms: str = "live"  # live: texts and replies through the local platform | import: a CSV
    # browser: scripted agents on /agent/ in Chromium | api: the same calls over HTTP | import: an
    # XLSX of results (`hallrate import`). browser and api need sms "live" (the phone numbers).
    phone: str = "browser"
    phone_agents: int = 2
    phone_retries: bool = True  # False: each entry called once, rescheduled ones left open
    # Of the citizens who rate nothing on site and leave no phone, this share rates online.
    online_share: float = online_citizens.DEFAULT_SHARE

    def spec(self) -> HallSpec:
        day = self.day or default_day()
        return HallSpec(
            windows=self.windows,
            tickets=self.tickets,
            seed=self.seed,
            day=day,
            hall=self.hall,
            ballot_boxes=self.ballot_boxes,
            firmware_windows=min(self.real_firmware, self.windows),
        )


def default_day(tz: str = "Asia/Shanghai") -> date:
    """The hall's yesterday. The day's phone call-backs happen the next day (10:00-16:00) and
    `hallrate import` refuses rows more than a day in the future: a day that starts today fails
    its import whenever the run starts before about 16:00 in the hall (08:00 UTC)."""
    return datetime.now(ZoneInfo(tz)).date() - timedelta(days=1)


@dataclass
class SimResult:
    ledger: Ledger
    diffs: list[checker.Difference]
    fault_log: faults.FaultLog
    # When counts differ: which evaluator votes the gateway judged otherwise than the ledger.
    vote_diffs: list[vote_audit.VoteDifference] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    workdir: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.diffs


class ScriptClock:
    """A device's clock: the script time of the step it is in, plus its skew (set by the model)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Simulation:
    def __init__(self, opts: SimOptions, out: TextIO | None = None) -> None:
        self.opts = opts
        self.out = out or sys.stderr
        self.spec = opts.spec()
        self.script: Script = build(self.spec)
        self.citizens: list[sms_citizens.Citizen] = []
        if opts.sms == "live":
            self.script, self.citizens = sms_citizens.plan(self.script, self.spec, opts.seed)
            self.script = sms_citizens.retime(self.script, self.citizens)
        self.sms_stats: dict[str, Any] = {}
        self.call_citizens: list[callback_citizens.CallCitizen] = []
        self.phone_stats: dict[str, Any] = {}
        if self.live_phone:
            self.call_citizens = callback_citizens.plan(self.script, self.citizens, opts.seed)
            # The server dates a call when the agent records it: today, after the day is played.
            calls = callback_citizens.expected_events(
                self.call_citizens,
                int(time.time()),
                callback_citizens.MAX_ATTEMPTS if opts.phone_retries else 1,
            )
            # The call-back pipeline names the ticket's own day (一次一评's slot).
            days = online_citizens.ticket_days(self.script)
            calls = [replace(e, ticket_day=days.get(e.ticket or "")) for e in calls]
            self.script = callback_citizens.with_phone_events(self.script, calls)
        self.online: list[online_citizens.OnlineCitizen] = []
        self.online_stats: dict[str, Any] = {}
        if opts.online_share > 0:
            # The server dates an online rating when it gets it: today, after the day is played.
            self.script, self.online = online_citizens.plan(
                self.script,
                opts.online_share,
                opts.seed,
                int(time.time()),
                datetime.now(ZoneInfo(self.spec.tz)).date(),
            )
        self.ledger = compute(self.script)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if opts.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="hallrate-sim-")
            self.workdir = Path(self._tmp.name)
        else:
            self.workdir = opts.workdir
            self.workdir.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(opts.seed * 7919 + 1)
        self.fault_log = faults.FaultLog()
        self.models: dict[str, DeviceModel] = {}
        self.clocks: dict[str, ScriptClock] = {}
        self.firmware: dict[str, Any] = {}  # window -> FirmwareDevice
        self.fw_locks: dict[str, asyncio.Lock] = {}
        self.done_events = 0
        self.window_t: dict[str, float] = {}
        self.req_wait = REQ_WAIT_S
        self.unpause_waits = 0
        self.svc: HallServices | None = None
        self.drive_s = 0.0
        driven = [e for e in self.script.events if e.kind in ("queue", "press", "drop")]
        self.driven = driven
        self.t0 = driven[0].t - 1
        self.t1 = driven[-1].t

    @property
    def live_phone(self) -> bool:
        return self.opts.sms == "live" and self.opts.phone in ("browser", "api")

    # ---- set-up -----------------------------------------------------------------------------

    def _services(self) -> HallServices:
        serial_gw = None
        if self.opts.queue == "serial":
            serial_gw = str(self.workdir / "tty-gateway")
        return HallServices(
            self.spec,
            self.workdir,
            broker_kind=self.opts.broker,
            mqtt_url=self.opts.mqtt_url,
            database_url=self.opts.database_url,
            serial_port=serial_gw,
            server_env=self._server_env(),
        )

    def _server_env(self) -> dict[str, str]:
        """The server's policy file (the online citizens' rate limits; the live SMS and
        call-back tables) and, for the live SMS channel, a phone key."""
        policy = self.workdir / "policy.toml"
        env = {"HALLRATE_POLICY_FILE": str(policy)}
        text = online_citizens.POLICY_TOML
        if self.opts.sms == "live":
            text = sms_citizens.POLICY_TOML + callback_citizens.POLICY_TOML + text
            self.phone_key = secrets.token_hex(32)
            env["HALLRATE_PHONE_KEY"] = self.phone_key
        policy.write_text(text)
        return env

    def _make_devices(self, svc: Any) -> Fleet:
        host, port = svc.broker_host_port
        fleet = Fleet(host, port)
        persist = "power-loss" in self.opts.faults
        outboxes = self.workdir / "outboxes"
        outboxes.mkdir(exist_ok=True)
        for w in self.spec.window_codes():
            if self.script.profiles[w].firmware:
                continue
            dev = self.spec.evaluator_id(w)
            self._model(fleet, dev, "evaluator", outboxes if persist else None)
        for b in self.spec.ballot_ids():
            self._model(fleet, b, "ballot_box", outboxes if persist else None)
        return fleet

    def _model(self, fleet: Fleet, dev: str, kind: str, outboxes: Path | None) -> None:
        clock = ScriptClock(self.t0)
        self.clocks[dev] = clock
        m = DeviceModel(
            self.spec.hall,
            dev,
            kind,
            clock=clock,
            outbox_path=(outboxes / f"{dev}.jsonl") if outboxes else None,
            rng=random.Random(f"{self.opts.seed}-{dev}"),
        )
        self.models[dev] = fleet.add(m)

    def _start_firmware(self, svc: HallServices) -> None:
        if not self.opts.real_firmware:
            return
        from simulator.firmware_process import FirmwareDevice

        exe = self.opts.micropython or str(Path(sys.executable).parent / "micropython")
        host, port = svc.broker_host_port
        for w in self.spec.window_codes()[: self.opts.real_firmware]:
            dev = self.spec.evaluator_id(w)
            conf = {
                "device": dev,
                "hall": self.spec.hall,
                "kind": "evaluator",
                "broker_host": host,
                "broker_port": port,
                "heartbeat": 5,
                "resend_ms": 2000,
                "backoff_base_ms": 200,
                "backoff_max_ms": 2000,
                "keepalive": 10,
            }
            fw = FirmwareDevice(exe, conf, self.workdir / "firmware")
            fw.start()
            self.firmware[w] = fw
            self.fw_locks[w] = asyncio.Lock()

    # ---- clocks and progress ----------------------------------------------------------------

    def sim_now(self) -> float:
        return self.t0 + (time.monotonic() - self.real0) * self.opts.speed

    def script_now(self) -> float:
        """Simulated time the whole hall has reached: every window has played every event
        before it (windows can lag the clock, e.g. waiting for a rating request)."""
        done = min(self.window_t.values(), default=float(self.t1))
        return min(done, self.sim_now())

    def progress(self) -> float:
        return min(1.0, max(0.0, (self.script_now() - self.t0) / max(1, self.t1 - self.t0)))

    async def _pace(self, t: int) -> None:
        ahead = (t - self.sim_now()) / self.opts.speed
        if ahead > 0:
            await asyncio.sleep(ahead)

    # ---- driving ----------------------------------------------------------------------------

    async def _drive_window(self, w: str, events: list[Event], send: Callable[..., Any]) -> None:
        fw = self.firmware.get(w)
        dev = self.spec.evaluator_id(w)
        i = 0
        while i < len(events):
            e = events[i]
            self.window_t[w] = e.t
            await self._pace(e.t)
            if fw is not None:
                unit = [e]
                if e.kind == "queue" and e.ev == "finish":
                    while (
                        i + len(unit) < len(events)
                        and events[i + len(unit)].kind == "press"
                        and events[i + len(unit)].ticket == e.ticket
                    ):
                        unit.append(events[i + len(unit)])
                await self._firmware_unit(w, fw, unit, send)
                i += len(unit)
                self.done_events += len(unit)
                continue
            clock = self.clocks[dev]
            clock.t = max(clock.t, e.t)
            if e.kind == "queue":
                await send([e])
            elif e.kind == "press":
                m = self.models[dev]
                if e.role == "first" and e.ticket is not None:
                    await m.wait_request("tk:" + e.ticket, self.req_wait)
                if m.evaluator.paused:
                    # The script never presses inside a pause (its resume came 50 s or more
                    # before): a device still paused only lags the script, as when the gateway
                    # is seconds behind at this speed. Let its config catch up first.
                    self.unpause_waits += 1
                    await m.wait_unpaused(UNPAUSE_WAIT_S)
                assert e.level is not None
                m.press(e.level)
            i += 1
            self.done_events += 1
        self.window_t[w] = float("inf")

    async def _firmware_unit(
        self, w: str, fw: Any, unit: list[Event], send: Callable[..., Any]
    ) -> None:
        async with self.fw_locks[w]:
            mark = fw.mark()
            if unit[0].kind == "queue":
                await send([unit[0]])
            presses = [e for e in unit if e.kind == "press"]
            if not presses:
                return
            try:
                await asyncio.to_thread(
                    fw.wait_event,
                    lambda ev: ev.get("ev") == "display" and ev.get("screen") == "ask",
                    FW_REQ_WAIT_S,
                    "rating request",
                    mark,
                )
            except Exception as exc:  # the check will show what this cost
                self.fault_log.notes.append(
                    f"firmware {w}: no 请评价 before the press ({exc!s:.80})"
                )
            for p in presses:
                await asyncio.sleep(FW_PRESS_GAP_S)
                fw.press(p.level)
            await asyncio.sleep(FW_PRESS_GAP_S)

    def _firmware_diagnostics(self, fw: Any) -> None:
        """Note anything on a real firmware's screen that the script never asked for."""
        paused = [e for e in list(fw.events) if e.get("screen") == "paused"]
        if paused:
            self.fault_log.notes.append(f"firmware {fw.device}: showed 暂停服务 {len(paused)}x")

    async def _drive_ballots(self, events: list[Event]) -> None:
        for e in events:
            await self._pace(e.t)
            # A ticket reaches the exit after its window served it: keep drops behind the windows.
            while self.script_now() < e.t:
                await asyncio.sleep(0.01)
            assert e.device is not None and e.slot is not None
            clock = self.clocks[e.device]
            clock.t = max(clock.t, e.t)
            self.models[e.device].drop(e.slot, e.ticket)
            self.done_events += 1

    # ---- faults -----------------------------------------------------------------------------

    # ---- the run ----------------------------------------------------------------------------

    async def run(self) -> SimResult:
        started = time.monotonic()
        if self.opts.ledger:
            self.ledger.write(self.opts.ledger)
        self.ledger.write(self.workdir / "ledger.json")
        svc = self._services()
        self.svc = svc
        socat = None
        if self.opts.queue == "serial":
            socat = await self._socat()
        fleet: Fleet | None = None
        queue: Any = None
        try:
            self._say(f"starting broker, server, gateway in {self.workdir}")
            await asyncio.to_thread(svc.start_all)
            fleet = self._make_devices(svc)
            fleet.start()
            await fleet.wait_connected(60)
            await asyncio.to_thread(self._start_firmware, svc)
            if self.opts.queue == "serial":
                queue = SerialQueueDriver(
                    str(self.workdir / "tty-queue"), self.spec.tz, rng=random.Random(self.opts.seed)
                )
            else:
                queue = HttpQueueDriver(
                    svc.gateway_url, svc.queue_token, rng=random.Random(self.opts.seed)
                )
            fault_actions.static_faults(self, queue)
            await self._wait_configured(60)
            drive_started = time.monotonic()
            await self._drive(svc, fleet, queue)
            self.drive_s = time.monotonic() - drive_started
            self._say("\nwaiting for quiescence")
            status = await after_day.quiesce(self, svc, fleet)
            await after_day.rate_after_the_day(self, svc, queue)
            diffs: list[checker.Difference] = []
            if self.opts.check:
                start, end = period(self.ledger)
                today = datetime.now(ZoneInfo(self.spec.tz)).date()
                start, end = min(start, today), max(end, today + timedelta(days=1))
                # Quiescence is judged from outside; give stragglers a few seconds to land.
                for attempt in range(4):
                    results = await asyncio.to_thread(
                        checker.fetch_results,
                        svc.server_url,
                        ADMIN[0],
                        ADMIN[1],
                        self.ledger,
                        start,
                        end,
                    )
                    diffs = checker.compare(self.ledger, results)
                    if not diffs:
                        break
                    self.fault_log.notes.append(f"check {attempt + 1}: {len(diffs)} differences")
                    await asyncio.sleep(3.0)
            res = SimResult(self.ledger, diffs, self.fault_log, workdir=self.workdir)
            if diffs:
                res.vote_diffs = await asyncio.to_thread(self._audit_votes, svc)
            res.summary = summary.collect(self, fleet, queue, status)
            res.elapsed_s = time.monotonic() - started
            return res
        finally:
            if queue is not None:
                await queue.close()
            if fleet is not None:
                await fleet.close()
            for fw in self.firmware.values():
                self._firmware_diagnostics(fw)
                await asyncio.to_thread(fw.stop)
            await asyncio.to_thread(svc.stop_all)
            if socat is not None:
                socat.terminate()
                await socat.wait()

    def _audit_votes(self, svc: HallServices) -> list[vote_audit.VoteDifference]:
        """Press by press: the gateway's records against the ledger's expectation."""
        models = {d: m for d, m in self.models.items() if m.kind == "evaluator"}
        try:
            return vote_audit.audit_journal(
                self.script,
                svc.workdir / "gateway-journal.db",
                {d: m.skew_s for d, m in models.items()},
                set(models),
            )
        except Exception as exc:  # a diagnostic only: never hide the check's own result
            self.fault_log.notes.append(f"vote audit failed: {exc!r}")
            return []

    async def _socat(self) -> asyncio.subprocess.Process:
        a, b = self.workdir / "tty-queue", self.workdir / "tty-gateway"
        proc = await asyncio.create_subprocess_exec(
            "socat",
            "-d",
            "-d",
            f"pty,raw,echo=0,link={a}",
            f"pty,raw,echo=0,link={b}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(100):
            if a.exists() and b.exists():
                break
            await asyncio.sleep(0.05)
        return proc

    async def _wait_configured(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(m.cfg is None for m in self.models.values()):
            if time.monotonic() > deadline:
                missing = [d for d, m in self.models.items() if m.cfg is None]
                raise TimeoutError(f"no retained cfg for {missing[:5]}")
            await asyncio.sleep(0.1)

    async def _drive(self, svc: Any, fleet: Fleet, queue: Any) -> None:
        per_window: dict[str, list[Event]] = {w: [] for w in self.spec.window_codes()}
        drops: list[Event] = []
        for e in self.driven:
            if e.kind == "drop":
                drops.append(e)
            else:
                assert e.window is not None
                per_window[e.window].append(e)
        self.real0 = time.monotonic()
        self.window_t = {w: float(self.t0) for w in per_window}
        stop = asyncio.Event()
        aux = [asyncio.create_task(self._progress_bar(fleet, stop))]
        timed = fault_actions.timed_faults(self, svc, fleet)
        aux.append(
            asyncio.create_task(faults.run_schedule(timed, self.progress, self.fault_log, stop))
        )
        if "malformed" in self.opts.faults:
            aux.append(asyncio.create_task(fault_actions.malformed_devices(self, stop)))
        drivers = [
            asyncio.create_task(self._drive_window(w, evs, queue.send))
            for w, evs in per_window.items()
        ]
        drivers.append(asyncio.create_task(self._drive_ballots(drops)))
        try:
            await asyncio.gather(*drivers)
            # Let the fault schedule finish (a fault due near the end still happens).
            await asyncio.wait_for(aux[1], timeout=120)
        finally:
            stop.set()
            for t in aux:
                t.cancel()
            await asyncio.gather(*aux, return_exceptions=True)

    # ---- output -----------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        if self.opts.progress:
            print(text, file=self.out, flush=True)

    async def _progress_bar(self, fleet: Fleet, stop: asyncio.Event) -> None:
        total = len(self.driven)
        tty = self.out.isatty()
        shown = -1
        while not stop.is_set():
            frac = self.done_events / max(1, total)
            # On a terminal the bar redraws in place; in a log, one line per 10%.
            if self.opts.progress and (tty or int(frac * 10) != shown):
                shown = int(frac * 10)
                bar = "#" * int(frac * 30)
                clock = datetime.fromtimestamp(
                    min(self.script_now(), self.t1), ZoneInfo(self.spec.tz)
                )
                lead = "\r" if tty else ""
                print(
                    f"{lead}[{bar:<30}] {frac * 100:5.1f}%  sim {clock:%H:%M}  "
                    f"events {self.done_events}/{total}  outbox {fleet.outbox_depth()}  "
                    f"faults {sum(self.fault_log.injected.values())}",
                    end="" if tty else "\n",
                    file=self.out,
                    flush=True,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)


def run(opts: SimOptions, out: TextIO | None = None) -> SimResult:
    """Run a simulation; SIGTERM is turned into KeyboardInterrupt so the chain's processes are
    always stopped, never orphaned."""
    return run_simulation(Simulation(opts, out))


def run_simulation(sim: Simulation) -> SimResult:
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return asyncio.run(sim.run())
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
