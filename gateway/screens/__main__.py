"""`python -m gateway.screens --out DIR`: the evaluator's screens as PNGs, exactly as the device
draws them (tests/firmware/test_display_e2e.py compares the two), for docs/screens/."""

from __future__ import annotations

import argparse
import sys

from firmware import wire_scr
from gateway.screens.font import FontError, find_font
from gateway.screens.render import LANGS, Staff, bands, compose


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gateway.screens", description=__doc__)
    p.add_argument("--out", required=True, help="directory for <lang>-<screen>.png")
    p.add_argument("--font", help="a CJK font file (default: the first of the search list)")
    p.add_argument("--window", default="A03", help="window shown on idle (default %(default)s)")
    p.add_argument("--staff", default="1001", help="工号 on idle-staff (default %(default)s)")
    p.add_argument("--name", default="张三", help="name on idle-staff (default %(default)s)")
    a = p.parse_args(argv)
    try:
        font = str(find_font(a.font))
    except FontError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from pathlib import Path

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for lang in LANGS:
        for key in wire_scr.KEYS:
            staffs: list[tuple[str, Staff | None]] = [("", None)]
            if key == "idle":
                staffs = [("-nostaff", None), ("-staff", Staff(a.staff, a.name))]
            for suffix, st in staffs:
                path = out / f"{lang}-{key}{suffix}.png"
                compose(bands(key, lang, font, a.window, st)).save(path)
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
