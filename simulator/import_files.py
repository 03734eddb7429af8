"""SMS replies and phone call-back results as the files a hall receives (CSV and XLSX, columns per
docs/import-format.md), loaded through `hallrate import` as a separate process."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware import wire_gw
from simulator.hall_model import Event

SMS_HEADER = ["记录编号", "回复时间", "窗口", "工号", "取号单号", "事项编码", "手机号", "回复内容"]
PHONE_HEADER = [
    "回访编号",
    "回访时间",
    "窗口",
    "工号",
    "取号单号",
    "事项编码",
    "回访电话",
    "回访状态",
    "回访结果",
]


def _phone_no(i: int) -> str:
    return f"138{i:08d}"


def _when(t: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M:%S")


def sms_rows(events: list[Event], tz: ZoneInfo) -> list[list[str]]:
    """One row per SMS sent; the reply is the GB/T 39046 digit (1 非常满意 … 5 非常不满意), or
    empty when the citizen did not reply."""
    rows = []
    for i, e in enumerate(events):
        reply = wire_gw.LEVEL_GBT39046_CODE[e.level] if e.level else ""
        rows.append(
            [
                str(e.id),
                _when(e.t, tz),
                e.window or "",
                e.staff or "",
                e.ticket or "",
                e.matter or "",
                _phone_no(i),
                reply,
            ]
        )
    return rows


def phone_rows(events: list[Event], tz: ZoneInfo) -> list[list[str]]:
    rows = []
    for i, e in enumerate(events):
        connected = e.level is not None
        rows.append(
            [
                str(e.id),
                _when(e.t, tz),
                e.window or "",
                e.staff or "",
                e.ticket or "",
                e.matter or "",
                _phone_no(50_000_000 + i),
                "已接通" if connected else "未接通",
                wire_gw.LEVEL_ZH[e.level] if e.level else "",
            ]
        )
    return rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "回访结果"
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def write_files(events: list[Event], tz: str, outdir: Path) -> dict[str, Path]:
    """SMS as a UTF-8 CSV, phone call-backs as an XLSX (halls get both kinds)."""
    z = ZoneInfo(tz)
    outdir.mkdir(parents=True, exist_ok=True)
    sms = [e for e in events if e.kind == "sms"]
    phone = [e for e in events if e.kind == "phone"]
    out: dict[str, Path] = {}
    if sms:
        out["sms"] = write_csv(outdir / "sms-replies.csv", SMS_HEADER, sms_rows(sms, z))
    if phone:
        out["phone"] = write_xlsx(
            outdir / "phone-callbacks.xlsx", PHONE_HEADER, phone_rows(phone, z)
        )
    return out


def run_import(
    path: Path, channel: str, hall: str, database_url: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`hallrate import FILE --channel sms|phone --hall H1` as a child process."""
    argv = [
        sys.executable,
        "-c",
        "import sys; from server.import_cli import main; sys.exit(main(sys.argv[1:]))",
        str(path),
        "--channel",
        channel,
        "--hall",
        hall,
        "--database-url",
        database_url,
        "--json",
    ]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
