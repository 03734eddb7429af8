"""Plays an mpremote session's chained steps against a directory standing in for a board's
filesystem: every `exec` program runs on the real MicroPython unix port (cwd = the directory),
`fs cp` copies, `reset` is recorded. Like mpremote, the first failing step ends the session
(exit status 1). The programs must have been built with root = that directory
(gateway/firmware_session.session(..., root=...))."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from gateway.firmware_session import steps_of

MICROPYTHON = str(Path(sys.executable).parent / "micropython")


@dataclass
class Played:
    rc: int = 0
    ran: list[str] = field(default_factory=list)  # the step names, in order
    out: str = ""
    resets: int = 0


def play(argv: list[str], board: Path, corrupt: str | None = None) -> Played:
    """Run ``argv``'s steps against ``board``; ``corrupt`` names a file whose copy is damaged
    on the way (a flipped byte, as a bad cable or flash would)."""
    res = Played()
    for step in steps_of(argv):
        res.ran.append(step[0])
        if step[0] == "exec":
            p = subprocess.run(
                [MICROPYTHON, "-c", step[1]],
                cwd=board,
                capture_output=True,
                text=True,
                timeout=60,
            )
            res.out += p.stdout + p.stderr
            if p.returncode != 0:
                res.rc = 1
                return res
        elif step[:2] == ["fs", "cp"]:
            dst = board / step[3].removeprefix(":/")
            shutil.copyfile(step[2], dst)
            if corrupt and step[3] == f":/{corrupt}":
                data = bytearray(dst.read_bytes())
                data[len(data) // 2] ^= 0xFF
                dst.write_bytes(bytes(data))
        elif step == ["reset"]:
            res.resets += 1
        else:
            raise AssertionError(f"step the stand-in does not know: {step}")
    return res


def tree(board: Path) -> set[str]:
    return {p.relative_to(board).as_posix() for p in board.rglob("*") if p.is_file()}
