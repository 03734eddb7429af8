"""Lay out a unix-port device filesystem (docs/firmware.md, Updates): the boot stage
(main_unix.py, loader.py) and application bundles in slot_a / slot_b, as a deploy and an update
leave them. The loader does not check signatures (the ota module does, at download time), so
manifest.sig holds a placeholder here.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

from gateway.firmware_bundle import BOOT_STAGE, compile_app, install_slot, manifest_text, pack
from gateway.firmware_tool import FIRMWARE_DIR

PLACEHOLDER_SIG = "00" * 64
# Broken variants of the firmware, for rollback tests: (file, text appended to it).
CRASH_AT_IMPORT = ("app.py", '\nraise RuntimeError("boom at import")\n')
CRASH_IN_RUN = (
    "app.py",
    '\n_run = run\n\n\nasync def run(hal, conf):\n    raise RuntimeError("boom in run")\n',
)


@functools.cache
def bundle(patch: tuple[str, str] | None = None, outbox_format: int | None = None) -> bytes:
    """The unix-port application bundle (HRB1 blob) of the firmware, optionally broken by
    ``patch`` or writing outbox format ``outbox_format``."""
    if patch is None and outbox_format is None:
        return pack(compile_app("unix"))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "firmware"
        shutil.copytree(FIRMWARE_DIR, src, ignore=shutil.ignore_patterns("__pycache__"))
        if patch is not None:
            p = src / patch[0]
            p.write_text(p.read_text() + patch[1])
        if outbox_format is not None:
            for name in ("outbox.py", "outbox_load.py"):
                p = src / name
                text = p.read_text()
                old = "_FORMAT = const(3)"
                assert old in text
                p.write_text(text.replace(old, f"_FORMAT = const({outbox_format})"))
        return pack(compile_app("unix", src))


def install(root: Path, slot: str, version: str, blob: bytes | None = None) -> None:
    """Install a bundle blob (default: the firmware as it is) as ``version`` in slot_<slot>."""
    from gateway.firmware_bundle import unpack

    blob = bundle() if blob is None else blob
    mf = manifest_text(version, blob, boards=("unix",))
    install_slot(root, slot, unpack(blob), mf, PLACEHOLDER_SIG)


def layout(root: Path, version: str = "1.0.0") -> Path:
    """A device root with the boot stage and ``version`` in slot_a; returns it."""
    root.mkdir(parents=True, exist_ok=True)
    for name in BOOT_STAGE - {"main.py"}:
        shutil.copyfile(FIRMWARE_DIR / name, root / name)
    install(root, "a", version)
    return root
