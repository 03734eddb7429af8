"""Run the real hallrate firmware on the MicroPython unix port as a child process, and drive it.

The firmware's unix hal reads control lines on stdin (press, beam, dip, lost, block, lid, wifi,
tear, stat, quit)
and writes JSON lines on stdout; this class hides that protocol behind methods.

Board mode (``board=True``): like a board that reboots, the process is started again with the
same config and root when it exits with code 3 (the unix port's reset: hal.reset, an uncaught
exception) or when the test cuts its power with ``power_cut(restart=True)``. Events of every
boot stay in ``events`` (each boot's "ready" names its new boot id, also in ``boots``); exit 0
(stdin "quit") ends it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIRMWARE_DIR = Path(__file__).resolve().parents[1] / "firmware"

Event = dict[str, Any]


class FirmwareError(RuntimeError):
    """The firmware process did not do what was asked in time."""


class FirmwareDevice:
    """One evaluator or ballot box running ``firmware/main_unix.py`` on ``micropython``.

    ``config`` is the device config (device, hall, kind, broker_host, broker_port, ...); the
    outbox file defaults to ``workdir/<device>.outbox`` so it survives restarts of the process.
    With ``config["root"]`` (a device filesystem, docs/firmware.md, Updates) the config is
    written to ``root/config.json``, the outbox is ``root/outbox.bin`` and the boot stage
    (main_unix.py, loader.py) is run from ``firmware_dir`` (default: the root itself).
    """

    def __init__(
        self,
        micropython_path: str,
        config: dict[str, Any],
        workdir: Path,
        firmware_dir: Path | None = None,
        board: bool = False,
    ) -> None:
        self.micropython = micropython_path
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config = dict(config)
        self.device = str(self.config["device"])
        self.board = board
        root = self.config.get("root")
        if root:
            self.firmware_dir = firmware_dir or Path(root)
            self.config_path = Path(root) / "config.json"
        else:
            self.config.setdefault("outbox", str(self.workdir / f"{self.device}.outbox"))
            self.firmware_dir = firmware_dir or FIRMWARE_DIR
            self.config_path = self.workdir / f"{self.device}.json"
        self.log_path = self.workdir / f"{self.device}.log"
        self.events: list[Event] = []
        self.boots: list[str] = []
        self._cond = threading.Condition()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._restart: subprocess.Popen[bytes] | None = None  # the process a power cut restarts
        self._halt = False  # kill(): no more restarts

    # ---- process ------------------------------------------------------------------------------

    def start(self, timeout: float = 15.0, wait: bool = True) -> FirmwareDevice:
        """Start the process and wait for its "ready" line (outbox loaded) unless not ``wait``."""
        if self.alive():
            raise FirmwareError("already running")
        self.config_path.write_text(json.dumps(self.config))
        with self._cond:
            self.events = []
            self._halt = False
            self._spawn()
        if wait:
            self.wait_event(lambda e: e.get("ev") == "ready", timeout, "ready")
        return self

    def _spawn(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            [self.micropython, str(self.firmware_dir / "main_unix.py"), str(self.config_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=self.workdir,
            start_new_session=True,
        )
        log.close()
        self._proc = proc
        self._reader = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._reader.start()

    def power_cut(self, restart: bool = True, timeout: float = 15.0) -> None:
        """SIGKILL (a power cut); with ``restart`` (board mode) the device boots again, and this
        returns once that boot is "ready"."""
        n = len(self.boots)
        if restart:
            self._restart = self._proc
        self.kill(join=not restart)
        if restart:
            self.wait_boot(n + 1, timeout)

    def wait_boot(self, n: int, timeout: float = 30.0) -> str:
        """Wait until the device has booted ``n`` times (ready lines) in all; the last boot id."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.boots) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FirmwareError(f"timed out waiting for boot {n}\n{self.log()}")
                self._cond.wait(left)
            return self.boots[-1]

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise FirmwareError("not started")
        return self._proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the firmware to quit; SIGKILL it if it does not."""
        if not self.alive():
            return
        try:
            self._send("quit")
            assert self._proc is not None
            self._proc.wait(timeout)
        except (OSError, subprocess.TimeoutExpired, FirmwareError):
            self.kill()
        self._join()

    def kill(self, join: bool = True) -> None:
        """SIGKILL: a power cut, as far as the firmware can tell (no restart, even in board mode,
        unless power_cut asked for one)."""
        with self._cond:
            self._halt = join
            proc = self._proc
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if join:
            self._join()

    def _join(self) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        if self._reader is not None:
            self._reader.join(5)

    def log(self) -> str:
        """The firmware's stdout events and stderr, for failure messages."""
        try:
            err = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            err = ""
        with self._cond:
            out = "\n".join(json.dumps(e, ensure_ascii=False) for e in self.events[-60:])
        return out + "\n--- stderr ---\n" + err[-4000:]

    # ---- events -------------------------------------------------------------------------------

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"ev": "text", "line": line}
            if not isinstance(ev, dict):
                ev = {"ev": "text", "line": line}
            with self._cond:
                self.events.append(ev)
                if ev.get("ev") == "ready":
                    self.boots.append(str(ev.get("boot")))
                self._cond.notify_all()
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        with self._cond:
            again = self.board and not self._halt and (rc == 3 or self._restart is proc)
            self.events.append({"ev": "exit", "rc": rc, "restart": again})
            self._cond.notify_all()
            if again:
                self._spawn()

    def wait_event(
        self,
        pred: Callable[[Event], bool],
        timeout: float = 10.0,
        what: str = "event",
        start: int = 0,
    ) -> Event:
        """The first event at index >= start matching ``pred``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self.events):
                    ev = self.events[i]
                    i += 1
                    if pred(ev):
                        return ev
                    if ev.get("ev") == "exit" and not ev.get("restart"):
                        raise FirmwareError(f"firmware exited waiting for {what}\n{self.log()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FirmwareError(f"timed out waiting for {what}\n{self.log()}")
                self._cond.wait(left)

    def mark(self) -> int:
        """An index into events: pass as ``start`` to wait only for what comes after now."""
        with self._cond:
            return len(self.events)

    def wait_link(self, up: bool = True, timeout: float = 15.0) -> None:
        """Wait until the MQTT link is (up) or is not (down) connected."""

        def ok() -> bool:
            return bool(self.status()["link"]) == up

        deadline = time.monotonic() + timeout
        while not ok():
            if time.monotonic() > deadline:
                raise FirmwareError(f"link never became up={up}\n{self.log()}")
            time.sleep(0.1)

    # ---- the test's hands ---------------------------------------------------------------------

    def _send(self, line: str) -> None:
        if self._proc is None or self._proc.stdin is None or not self.alive():
            raise FirmwareError("firmware is not running")
        self._proc.stdin.write(line.encode() + b"\n")
        self._proc.stdin.flush()

    def press(self, button: str | int, hold_ms: int = 80, bounce: bool = False) -> None:
        """Press a button by level label ("satisfied") or index; optionally with contact bounce."""
        self._send(f"press {button} {hold_ms}" + (" bounce" if bounce else ""))

    def beam(self, slot: int, ms: int, ticket: str | None = None) -> None:
        """A ticket passing a slot: its entry beam, then its confirm beam, each blocked ``ms``;
        a reader line with ``ticket`` first (the device needs conf "readers": true)."""
        self._send(f"beam {slot} {ms}" + (f" {ticket}" if ticket else ""))

    def drop(self, slot: int, ticket: str | None = None) -> None:
        """A ballot ticket falling through a slot (about 30 ms in each beam)."""
        self.beam(slot, 30, ticket)

    def dip(self, slot: int, ms: int) -> None:
        """A ticket (or a finger) dipped into a slot's mouth and pulled back: entry beam only."""
        self._send(f"dip {slot} {ms}")

    def lost_edge(self, slot: int) -> None:
        """A drop the hardware counter saw and the sampler did not (conf "pcnt": true)."""
        self._send(f"lost {slot}")

    def block(self, slot: int, blocked: bool) -> None:
        """Hold both of a slot's beams blocked (a hand, a stuck ticket, a full box), or clear."""
        self._send(f"block {slot} {1 if blocked else 0}")

    def lid(self, open_: bool) -> None:
        self._send(f"lid {1 if open_ else 0}")

    def set_wifi(self, up: bool) -> None:
        self._send(f"wifi {1 if up else 0}")

    def tear_next_write(self, nbytes: int) -> None:
        """The next outbox record write stops after ``nbytes``; the process freezes (power cut)."""
        self._send(f"tear {nbytes}")

    def status(self, collect: bool = False, timeout: float = 10.0) -> Event:
        """The firmware's status (depth, seq, boot, link, heap "alloc"/"free", counts, ...)."""
        start = self.mark()
        self._send("stat gc" if collect else "stat")
        return self.wait_event(lambda e: e.get("r") == "stat", timeout, "stat", start)

    def outbox_depth(self) -> int:
        return int(self.status()["depth"])

    def heap(self) -> int:
        """gc.mem_alloc() right after gc.collect(), in bytes."""
        return int(self.status(collect=True)["alloc"])

    def wait_depth(self, depth: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.outbox_depth() != depth:
            if time.monotonic() > deadline:
                raise FirmwareError(f"outbox depth never became {depth}\n{self.log()}")
            time.sleep(0.1)

    def queued(self) -> list[Event]:
        """The "queued" events (one per sequenced event created) of the current process."""
        with self._cond:
            return [e for e in self.events if e.get("ev") == "queued"]
