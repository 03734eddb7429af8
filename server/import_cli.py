"""`hallrate import`: load a CSV/XLSX of SMS replies or phone call-back results into the server
database, all-or-nothing unless --skip-bad; --dry-run shows every bad row and writes nothing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from server.importing import ImportParse, RowProblem, parse_table, read_table
from server.policy import Policy, PolicyError, load_policy

EXIT_OK = 0
EXIT_BAD_ROWS = 1
EXIT_USAGE = 2
BATCH = 2000


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hallrate import",
        description="Import SMS replies or phone call-back results (CSV or XLSX). "
        "Column format: docs/import-format.md.",
    )
    p.add_argument("file", help="CSV (UTF-8, UTF-8 with BOM, GB18030/GBK, UTF-16) or XLSX")
    p.add_argument("--channel", required=True, choices=("sms", "phone"))
    p.add_argument("--hall", required=True, help="hall code the results belong to, e.g. H1")
    p.add_argument("--dry-run", action="store_true", help="check and list bad rows; write nothing")
    p.add_argument(
        "--skip-bad", action="store_true", help="store the good rows even if some rows are bad"
    )
    p.add_argument("--database-url", help="default: HALLRATE_DATABASE_URL or the data dir SQLite")
    p.add_argument("--policy", help="policy TOML (default: HALLRATE_POLICY_FILE or built-in)")
    p.add_argument("--sheet", help="XLSX sheet name (default: the first sheet)")
    p.add_argument("--source", help="source recorded on each evaluation (default: import:<file>)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["import"]:
        args_list = args_list[1:]
    args = build_parser().parse_args(args_list)
    try:
        policy = load_policy(args.policy)
        table = read_table(args.file, args.sheet)
        source = args.source or f"import:{Path(args.file).name}"[:64]
        parsed = parse_table(
            table,
            channel=args.channel,
            hall=args.hall,
            policy=policy,
            source=source,
            now=datetime.now(UTC),
        )
    except (OSError, ValueError, PolicyError) as exc:
        # FileProblem is a ValueError: unreadable file, no header, no time column, ...
        what = "cannot read file" if isinstance(exc, OSError) else "cannot import"
        print(f"hallrate import: {what}: {exc}", file=sys.stderr)
        return EXIT_USAGE

    summary: dict[str, Any] = _summary(parsed, args)
    if args.dry_run:
        summary["stored"] = None
        _print(summary, parsed, args, out)
        return EXIT_BAD_ROWS if parsed.bad else EXIT_OK
    if parsed.bad and not args.skip_bad:
        summary["stored"] = None
        summary["refused"] = "the file has bad rows; fix them or pass --skip-bad"
        _print(summary, parsed, args, out)
        return EXIT_BAD_ROWS

    from sqlalchemy.exc import SQLAlchemyError

    try:
        stored, rejected = store(parsed, args.database_url, policy, args.skip_bad)
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        print(
            f"hallrate import: database error, nothing stored: {first}\n"
            "(is the database migrated? run `hallrate db upgrade`)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    summary["stored"] = stored
    if rejected:
        summary["rejected_by_server"] = [{"line": r.line, "reason": r.reason} for r in rejected]
        if not args.skip_bad:
            summary["refused"] = "the server rejected rows; nothing stored (or pass --skip-bad)"
    _print(summary, parsed, args, out)
    return EXIT_BAD_ROWS if rejected and not args.skip_bad else EXIT_OK


def store(
    parsed: ImportParse, database_url: str | None, policy: Policy, skip_bad: bool
) -> tuple[dict[str, Any], list[RowProblem]]:
    """Ingest the records in one transaction. Rows the server rejects roll everything back
    unless ``skip_bad``. Returns the ingest counts (with ``unknown_windows``: code -> ratings
    stored flagged unknown_window) and the rejected rows with file lines."""
    from server.config import Settings
    from server.db import begin_write, make_engine, make_sessionmaker
    from server.ingest import Submitter, ingest_evaluations

    url = database_url or Settings().resolved_database_url
    engine = make_engine(url)
    counts: dict[str, Any] = {"accepted": 0, "updated": 0, "duplicates": 0, "rejected": 0}
    unknown: dict[str, int] = {}
    rejected: list[RowProblem] = []
    lines = parsed.record_lines
    try:
        with make_sessionmaker(engine)() as session:
            begin_write(session)
            for start in range(0, len(parsed.records), BATCH):
                chunk = parsed.records[start : start + BATCH]
                result = ingest_evaluations(
                    session,
                    chunk,
                    Submitter.importer(chunk[0]["source"]),  # sms and phone only
                    hall=parsed.hall,
                    tz=policy.timezone,
                    rules=policy.directory,
                )
                counts["accepted"] += result.accepted
                counts["updated"] += result.updated
                counts["duplicates"] += result.duplicates
                for code, n in result.unknown_windows.items():
                    unknown[code] = unknown.get(code, 0) + n
                for rej in result.rejected:
                    rejected.append(RowProblem(lines[start + rej.index], rej.reason))
            counts["rejected"] = len(rejected)
            if unknown:
                counts["unknown_windows"] = dict(sorted(unknown.items()))
            if rejected and not skip_bad:
                session.rollback()
                counts["accepted"] = counts["updated"] = counts["duplicates"] = 0
            else:
                session.commit()
    finally:
        engine.dispose()
    return counts, sorted(rejected, key=lambda r: r.line)


def _summary(parsed: ImportParse, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "file": str(args.file),
        "channel": parsed.channel,
        "hall": parsed.hall,
        "encoding": parsed.encoding,
        "header_line": parsed.header_line,
        "columns": parsed.columns,
        "ignored_columns": parsed.ignored_columns,
        "ratings": len(parsed.records),
        "levels": parsed.level_counts(),
        "bad_rows": [{"line": b.line, "reason": b.reason} for b in parsed.bad],
        "skipped_rows": [{"line": s.line, "reason": s.reason} for s in parsed.skipped],
        "dry_run": bool(args.dry_run),
    }


def _print(
    summary: dict[str, Any], parsed: ImportParse, args: argparse.Namespace, out: TextIO
) -> None:
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2), file=out)
        return
    w = out.write
    w(f"{summary['file']}: {parsed.channel} results for hall {parsed.hall}")
    w(f" (encoding {parsed.encoding})\n" if parsed.encoding else "\n")
    w(
        f"header on line {parsed.header_line}: "
        + ", ".join(f"{h}->{f}" for h, f in parsed.columns.items())
        + "\n"
    )
    if parsed.ignored_columns:
        w("ignored columns: " + ", ".join(parsed.ignored_columns) + "\n")
    levels = ", ".join(f"{lv} {n}" for lv, n in summary["levels"].items())
    w(f"ratings: {len(parsed.records)} ({levels})\n")
    if parsed.skipped:
        w(f"not ratings, not counted: {len(parsed.skipped)}\n")
        for s in parsed.skipped:
            w(f"  line {s.line}: {s.reason}\n")
    if parsed.bad:
        w(f"bad rows: {len(parsed.bad)}\n")
        for b in parsed.bad:
            w(f"  line {b.line}: {b.reason}\n")
    for r in summary.get("rejected_by_server", []):
        w(f"  line {r['line']}: rejected by the server: {r['reason']}\n")
    if "refused" in summary:
        w(f"nothing stored: {summary['refused']}\n")
    elif summary["stored"] is None:
        w("dry run: nothing stored\n")
    else:
        s = summary["stored"]
        w(
            f"stored: {s['accepted']} new, {s['duplicates']} already present, "
            f"{s['updated']} updated, {s['rejected']} rejected\n"
        )
        if unknown := s.get("unknown_windows"):
            listed = ", ".join(f"{code} ({n})" for code, n in unknown.items())
            w(
                f"windows hall {parsed.hall} does not have: {listed}; those ratings are stored "
                "flagged unknown_window and not counted (create the windows, or see "
                "[directory] auto_create_windows in docs/scoring.md)\n"
            )


if __name__ == "__main__":
    raise SystemExit(main())
