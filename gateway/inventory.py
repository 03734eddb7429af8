"""The device inventory (docs/provisioning.md, "Inventory"): one CSV row per factory run, written
by `hallrate firmware factory`, read by `hallrate gateway provision --inventory FILE`, which binds
each device of the hall to the MAC of its latest passing row.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

COLUMNS = (
    "date",
    "mac",
    "device",
    "hall",
    "kind",
    "board",
    "micropython",
    "firmware",
    "rssi",
    "result",
    "failures",
)
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_KINDS = ("evaluator", "ballot_box")
_BOARDS = ("esp32", "esp32s3")


class InventoryError(ValueError):
    """A bad inventory file or row; the message names the file and line."""


def append(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` (every column; checked) to the CSV at ``path``, writing the header first
    when the file is new."""
    clean = {c: "" if row.get(c) is None else str(row[c]) for c in COLUMNS}
    check_row(clean, f"{path} (new row)")
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        if new:
            w.writeheader()
        w.writerow(clean)


def check_row(row: dict[str, str], where: str) -> None:
    try:
        datetime.fromisoformat(row["date"])
    except ValueError:
        raise InventoryError(f"{where}: date {row['date']!r} is not an ISO 8601 time") from None
    if not _MAC.match(row["mac"]):
        raise InventoryError(f"{where}: mac {row['mac']!r} is not aa:bb:cc:dd:ee:ff (lower case)")
    for key in ("device", "hall"):
        if not _ID.match(row[key]):
            raise InventoryError(f"{where}: {key} {row[key]!r} is not [A-Za-z0-9._-], 1-32")
    if row["kind"] not in _KINDS:
        raise InventoryError(f"{where}: kind must be one of {', '.join(_KINDS)}")
    if row["board"] not in _BOARDS:
        raise InventoryError(f"{where}: board must be one of {', '.join(_BOARDS)}")
    if row["result"] not in ("pass", "fail"):
        raise InventoryError(f"{where}: result must be pass or fail, got {row['result']!r}")
    if row["rssi"] and not re.fullmatch(r"-?\d{1,3}", row["rssi"]):
        raise InventoryError(f"{where}: rssi {row['rssi']!r} is not a whole dBm number")


def read(path: Path) -> list[dict[str, str]]:
    """Every row of the inventory, each checked; InventoryError at the first bad one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InventoryError(f"{path}: unreadable ({e})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise InventoryError(f"{path} line 1: the header must be {','.join(COLUMNS)}")
    rows = []
    for n, fields in enumerate(reader, 2):
        if len(fields) != len(COLUMNS):
            raise InventoryError(f"{path} line {n}: {len(fields)} fields, not {len(COLUMNS)}")
        row = dict(zip(COLUMNS, fields, strict=True))
        check_row(row, f"{path} line {n}")
        rows.append(row)
    return rows


def binding(rows: list[dict[str, str]], hall: str, path: Path) -> dict[str, dict[str, str]]:
    """device -> its latest passing row in ``hall`` (by date); a MAC bound to two devices is
    refused (a board moved between counters must be re-run through the factory)."""
    latest: dict[str, dict[str, str]] = {}
    for r in sorted(rows, key=lambda r: datetime.fromisoformat(r["date"])):
        if r["hall"] == hall and r["result"] == "pass":
            latest[r["device"]] = r
    owner: dict[str, str] = {}
    for dev, r in sorted(latest.items()):
        if r["mac"] in owner:
            raise InventoryError(
                f"{path}: MAC {r['mac']} is bound to both {owner[r['mac']]} and {dev} in hall "
                f"{hall}; run the board that is really there through hallrate firmware factory"
            )
        owner[r["mac"]] = dev
    return latest


def provision_inventory(path: Path, hall: str, devices: dict[str, str]) -> dict[str, Any]:
    """What `hallrate gateway provision --inventory` checks and writes: ``devices`` is hall.toml's
    device -> kind. A passing row whose kind differs from hall.toml is refused."""
    bound = binding(read(path), hall, path)
    for dev, r in bound.items():
        if dev in devices and devices[dev] != r["kind"]:
            raise InventoryError(
                f"{path}: {dev} was tested as {r['kind']}, hall.toml says {devices[dev]}"
            )
    return {
        "bound": {
            d: {k: bound[d][k] for k in ("mac", "board", "firmware", "date")}
            for d in sorted(bound)
            if d in devices
        },
        "missing": sorted(d for d in devices if d not in bound),
        "unknown": sorted(d for d in bound if d not in devices),
    }


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"
