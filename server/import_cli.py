"""`hallrate import`: load a CSV/XLSX of SMS replies or phone call-back results into the server
database. The file is read twice, as a stream: once to check every row (a file with bad rows
stores nothing unless --skip-bad; --dry-run stops there), then to store the records in
transactions of --chunk-rows, so the database is never locked for long and memory does not
grow with the file. Keys are idempotent: re-running an interrupted import completes it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from server.importing import (
    FileProblem,
    ImportParse,
    ReadLimits,
    ReasonSummary,
    RowProblem,
    iter_records,
    read_table,
)
from server.policy import Policy, PolicyError, load_policy

EXIT_OK = 0
EXIT_BAD_ROWS = 1
EXIT_USAGE = 2
CHUNK_ROWS = 5000
MAX_REJECTED_SHOWN = 20
DEFAULTS = ReadLimits()


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
    p.add_argument(
        "--max-rows", type=int, default=DEFAULTS.max_rows, help="refuse files with more rows"
    )
    p.add_argument("--max-bytes", type=int, default=DEFAULTS.max_bytes, help="refuse bigger files")
    p.add_argument(
        "--max-field",
        type=int,
        default=DEFAULTS.max_field,
        help="refuse files with a longer cell (characters)",
    )
    p.add_argument(
        "--chunk-rows",
        type=int,
        default=CHUNK_ROWS,
        help="records stored per transaction (default %(default)s)",
    )
    return p


def _records(
    args: argparse.Namespace, policy: Policy, into: ImportParse
) -> Iterator[tuple[dict[str, Any], int]]:
    limits = ReadLimits(args.max_bytes, args.max_rows, args.max_field)
    table = read_table(args.file, args.sheet, limits)
    into.encoding = table.encoding
    return iter_records(
        table,
        channel=args.channel,
        hall=args.hall,
        policy=policy,
        source=args.source or f"import:{Path(args.file).name}"[:64],
        now=datetime.now(UTC),
        into=into,
        keep_all=False,
    )


def _fail(reason: str) -> int:
    print(f"hallrate import: {' '.join(reason.split())}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["import"]:
        args_list = args_list[1:]
    args = build_parser().parse_args(args_list)
    if min(args.max_rows, args.max_bytes, args.max_field, args.chunk_rows) < 1:
        return _fail("--max-rows, --max-bytes, --max-field and --chunk-rows must be at least 1")
    parsed = ImportParse(channel=args.channel, hall=args.hall)
    try:
        policy = load_policy(args.policy)
        for _ in _records(args, policy, parsed):  # the first pass only checks and counts
            pass
    except (FileProblem, PolicyError) as exc:
        return _fail(f"cannot import: {exc}")
    except Exception as exc:  # anything else a broken file makes a reader raise
        return _fail(f"cannot read file: {type(exc).__name__}: {exc}")

    summary: dict[str, Any] = _summary(parsed, args)
    if args.dry_run:
        summary["stored"] = None
        _print(summary, parsed, args, out)
        return EXIT_BAD_ROWS if parsed.bad_count else EXIT_OK
    if parsed.bad_count and not args.skip_bad:
        summary["stored"] = None
        summary["refused"] = "the file has bad rows; fix them or pass --skip-bad"
        _print(summary, parsed, args, out)
        return EXIT_BAD_ROWS

    from sqlalchemy.exc import SQLAlchemyError

    second = ImportParse(channel=args.channel, hall=args.hall)
    try:
        stored, rejected = store(
            _records(args, policy, second),
            parsed.hall,
            args.database_url,
            policy,
            args.skip_bad,
            args.chunk_rows,
        )
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        return _fail(
            f"database error: {first} (transactions committed before it stay; re-running "
            "completes the import; is the database migrated? run `hallrate db upgrade`)"
        )
    except (FileProblem, OSError) as exc:  # the file changed between the two passes
        return _fail(f"cannot read file: {exc} (transactions committed before it stay)")
    summary["stored"] = stored
    if rejected:
        summary["rejected_by_server"] = [{"line": r.line, "reason": r.reason} for r in rejected]
        if not args.skip_bad:
            summary["refused"] = (
                "the server rejected rows; their transaction was rolled back"
                + (
                    f" ({stored['committed']} records stored by earlier transactions stay)"
                    if stored["committed"]
                    else "; nothing stored"
                )
                + " (or pass --skip-bad)"
            )
    _print(summary, parsed, args, out)
    return EXIT_BAD_ROWS if rejected and not args.skip_bad else EXIT_OK


def _chunks(
    records: Iterable[tuple[dict[str, Any], int]], size: int
) -> Iterator[list[tuple[dict[str, Any], int]]]:
    chunk: list[tuple[dict[str, Any], int]] = []
    for item in records:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def store(
    records: Iterable[tuple[dict[str, Any], int]],
    hall: str,
    database_url: str | None,
    policy: Policy,
    skip_bad: bool,
    chunk_rows: int = CHUNK_ROWS,
) -> tuple[dict[str, Any], list[RowProblem]]:
    """Ingest the records in transactions of ``chunk_rows``, each committed before the next
    is read. Rows the server rejects roll their transaction back and end the import unless
    ``skip_bad`` (earlier transactions stay: their keys make a re-run add nothing twice).
    Returns the ingest counts (``committed``: records in committed transactions;
    ``unknown_windows``: code -> ratings stored flagged unknown_window) and the rejected rows
    with file lines."""
    from server.db import begin_write, make_engine, make_sessionmaker
    from server.ingest import Submitter, ingest_evaluations
    from server.settings_cli import load_settings

    url = database_url or load_settings("import").resolved_database_url
    engine = make_engine(url)
    counts: dict[str, Any] = {
        "accepted": 0,
        "updated": 0,
        "duplicates": 0,
        "rejected": 0,
        "committed": 0,
        "transactions": 0,
    }
    unknown: dict[str, int] = {}
    rejected: list[RowProblem] = []
    try:
        with make_sessionmaker(engine)() as session:
            for chunk in _chunks(records, chunk_rows):
                batch = [record for record, _line in chunk]
                begin_write(session)
                result = ingest_evaluations(
                    session,
                    batch,
                    Submitter.importer(batch[0]["source"]),  # sms and phone only
                    hall=hall,
                    tz=policy.timezone,
                    rules=policy.directory,
                    one_rating=policy.one_rating,
                    policy=policy,
                )
                refused = [RowProblem(chunk[r.index][1], r.reason) for r in result.rejected]
                rejected.extend(refused)
                if refused and not skip_bad:
                    session.rollback()
                    break
                session.commit()
                counts["transactions"] += 1
                counts["committed"] += len(batch) - len(refused)
                counts["accepted"] += result.accepted
                counts["updated"] += result.updated
                counts["duplicates"] += result.duplicates
                for code, n in result.unknown_windows.items():
                    unknown[code] = unknown.get(code, 0) + n
            counts["rejected"] = len(rejected)
            if unknown:
                counts["unknown_windows"] = dict(sorted(unknown.items()))
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
        "ratings": parsed.n_records,
        "levels": parsed.level_counts(),
        "bad_rows": [{"line": b.line, "reason": b.reason} for b in parsed.bad],
        "bad_row_count": parsed.bad_count,
        "bad_reasons": _reasons_json(parsed.bad_reasons),
        "skipped_rows": [{"line": s.line, "reason": s.reason} for s in parsed.skipped],
        "skipped_row_count": parsed.skipped_count,
        "skipped_reasons": _reasons_json(parsed.skipped_reasons),
        "dry_run": bool(args.dry_run),
    }


def _reasons_json(summary: ReasonSummary) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"reason": g.reason, "count": g.count, "lines": g.lines} for g in summary.groups.values()
    ]
    if summary.other:
        out.append({"reason": None, "count": summary.other, "lines": []})
    return out


def _reason_lines(summary: ReasonSummary) -> Iterator[str]:
    """One line per distinct reason: `line 3: …`, or `lines 12, 13, 14 … (4,998 more): …`."""
    for g in summary.groups.values():
        where = ", ".join(str(n) for n in g.lines)
        more = g.count - len(g.lines)
        head = f"line {where}" if g.count == 1 else f"lines {where}"
        yield f"  {head}{f' … ({more:,} more)' if more else ''}: {g.reason}\n"
    if summary.other:
        yield f"  … {summary.other:,} more rows with other reasons\n"


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
    w(f"ratings: {parsed.n_records} ({levels})\n")
    if parsed.skipped_count:
        w(f"not ratings, not counted: {parsed.skipped_count}\n")
        for line in _reason_lines(parsed.skipped_reasons):
            w(line)
    if parsed.bad_count:
        w(f"bad rows: {parsed.bad_count}\n")
        for line in _reason_lines(parsed.bad_reasons):
            w(line)
    for r in summary.get("rejected_by_server", [])[:MAX_REJECTED_SHOWN]:
        w(f"  line {r['line']}: rejected by the server: {r['reason']}\n")
    if len(summary.get("rejected_by_server", [])) > MAX_REJECTED_SHOWN:
        w(f"  … {len(summary['rejected_by_server']) - MAX_REJECTED_SHOWN:,} more rejected\n")
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
