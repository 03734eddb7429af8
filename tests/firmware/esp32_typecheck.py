"""Type-check the ESP32 hal against micropython-esp32-stubs (a separate mypy run).

The stubs install as top-level .pyi files in site-packages, which mypy refuses on MYPYPATH, so
this links the files of that distribution into a directory of its own first. Run:
    .venv/bin/python -m tests.firmware.esp32_typecheck
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGETS = ["hal.esp32", "main", "loader"]  # module names, as the board imports them


def stub_dir(dest: Path) -> tuple[Path, list[str]]:
    """Link the .pyi files of the ESP32 stubs (and the stdlib stubs' _mpy_shed) into ``dest``."""
    files = list(metadata.distribution("micropython-esp32-stubs").files or [])
    files += [
        f
        for f in metadata.distribution("micropython-stdlib-stubs").files or []
        if str(f).startswith("_mpy_shed/")
    ]
    for f in files:
        if f.suffix != ".pyi":
            continue
        src = Path(str(f.locate()))
        target = dest / str(f)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(src)
    modules = sorted(
        {
            ".".join(Path(str(f)).with_suffix("").parts).removesuffix(".__init__")
            for f in files
            if f.suffix == ".pyi"
        }
    )
    return dest, modules


def typeshed_dir() -> Path:
    """micropython-stdlib-stubs' typeshed (its stdlib/ lives at the site-packages root)."""
    dist = metadata.distribution("micropython-stdlib-stubs")
    for f in dist.files or []:
        if str(f).startswith("stdlib/VERSIONS"):
            return Path(str(f.locate())).parents[1]
    raise RuntimeError("micropython-stdlib-stubs has no stdlib/VERSIONS")


def run(work: Path) -> subprocess.CompletedProcess[str]:
    stubs, modules = stub_dir(work / "stubs")
    firmware = REPO / "firmware"
    # The stubs have errors of their own (mypy checks .pyi on MYPYPATH): silence only those.
    ini = work / "mypy.ini"
    ini.write_text(
        (REPO / "tests" / "firmware" / "mypy_esp32.ini").read_text()
        + "\n[mypy-"
        + ",".join(modules)
        + "]\nignore_errors = true\n"
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ini),
            "--custom-typeshed-dir",
            str(typeshed_dir()),
            *[a for t in TARGETS for a in ("-m", t)],
        ],
        cwd=firmware,
        env={"MYPYPATH": f"{stubs}:{firmware}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        proc = run(Path(tmp))
    sys.stdout.write(proc.stdout + proc.stderr)
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
