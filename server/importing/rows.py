"""Rows of an import sheet into ingest records; every bad row gets its line number and reason."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from server.codes import HALL, MATTER, STAFF, TICKET, WINDOW, CodeKind
from server.importing.headers import field_for_header
from server.importing.readers import FileProblem, Table
from server.importing.values import (
    CHANNEL_WORDS,
    GBT39046_CODES,
    INVALID_CALL_WORDS,
    NO_REPLY_WORDS,
    VALID_CALL_WORDS,
    cell_text,
    mask_phone,
    norm_value,
    parse_level_word,
    parse_time,
)
from server.personal import scrub_phones
from server.policy import LEVELS, Policy
from server.sms.replies import parse_reply

ImportChannel = Literal["sms", "phone"]
IMPORT_CHANNELS: tuple[str, ...] = ("sms", "phone")
HEADER_SEARCH_ROWS = 10
MAX_ID_LEN = 40
FUTURE_SLACK = timedelta(days=1)
# ---- parsing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    """A bad or skipped row. The reason may echo cells: phone-like numbers in it are masked
    (138****5678), so a number in a reply column is never printed (docs/security.md)."""

    line: int
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", scrub_phones(self.reason))


@dataclass
class ImportParse:
    """Everything a dry run shows; ``records`` are ready for ingest."""

    channel: str
    hall: str
    records: list[dict[str, Any]] = field(default_factory=list)
    record_lines: list[int] = field(default_factory=list)  # file line of each record
    bad: list[RowProblem] = field(default_factory=list)
    # Rows that are fine but are not ratings: invalid calls, SMS without reply, duplicates.
    skipped: list[RowProblem] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # header -> field
    ignored_columns: list[str] = field(default_factory=list)
    header_line: int | None = None
    encoding: str | None = None
    # Counts over the whole file; ``records``, ``bad`` and ``skipped`` keep at most
    # ``MAX_LISTED`` entries each when the parse streams (keep_records=False).
    n_records: int = 0
    levels: dict[str, int] = field(default_factory=lambda: {lv: 0 for lv in LEVELS})
    bad_count: int = 0
    skipped_count: int = 0
    bad_reasons: ReasonSummary = field(default_factory=lambda: ReasonSummary())
    skipped_reasons: ReasonSummary = field(default_factory=lambda: ReasonSummary())

    @property
    def ok(self) -> bool:
        return not self.bad_count

    def level_counts(self) -> dict[str, int]:
        return dict(self.levels)

    def add_bad(self, problem: RowProblem, keep_all: bool) -> None:
        self.bad_count += 1
        self.bad_reasons.add(problem)
        if keep_all or len(self.bad) < MAX_LISTED:
            self.bad.append(problem)

    def add_skipped(self, problem: RowProblem, keep_all: bool) -> None:
        self.skipped_count += 1
        self.skipped_reasons.add(problem)
        if keep_all or len(self.skipped) < MAX_LISTED:
            self.skipped.append(problem)


MAX_LISTED = 1000  # rows listed one by one in a summary
MAX_REASONS = 50  # distinct reasons summarised; the others are counted together
LINES_SHOWN = 3  # lines shown per reason


@dataclass
class ReasonGroup:
    reason: str
    count: int
    lines: list[int]  # the first LINES_SHOWN


class ReasonSummary:
    """Rows grouped by their reason, in order of first appearance, with bounded memory."""

    def __init__(self) -> None:
        self.groups: dict[str, ReasonGroup] = {}
        self.other = 0  # rows whose reason came after MAX_REASONS distinct ones

    def add(self, problem: RowProblem) -> None:
        group = self.groups.get(problem.reason)
        if group is None:
            if len(self.groups) >= MAX_REASONS:
                self.other += 1
                return
            group = self.groups[problem.reason] = ReasonGroup(problem.reason, 0, [])
        group.count += 1
        if len(group.lines) < LINES_SHOWN:
            group.lines.append(problem.line)


def _find_header(rows: Sequence[tuple[int, list[Any]]]) -> tuple[int, dict[int, str]]:
    for idx, (_line, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        mapping = {i: f for i, c in enumerate(cells) if (f := field_for_header(c))}
        fields = set(mapping.values())
        if len(fields) >= 2 and fields & {"level", "level_code", "reply"}:
            return idx, mapping
    raise FileProblem(
        "no header row found in the first rows: need a result column "
        "(评价结果/满意度/满意度代码/回复内容/result/level) and a time column (评价时间/time)"
    )


def _check_mapping(header: list[Any], mapping: dict[int, str]) -> None:
    seen: dict[str, Any] = {}
    for i, f in mapping.items():
        if f in seen and f not in ("comment", "person", "serial", "region"):
            raise FileProblem(f"columns {seen[f]!r} and {header[i]!r} both mean {f}")
        seen.setdefault(f, header[i])
    if "time" not in seen:
        raise FileProblem("no time column (评价时间 / 回访时间 / 回复时间 / time)")


def _level_of_row(
    get: dict[str, str], raw: dict[str, Any], channel: str, policy: Policy
) -> tuple[str | None, str | None, str | None]:
    """(level, problem, skip reason) for one row."""
    candidates: list[tuple[str, str]] = []
    code = get.get("level_code", "")
    if code:
        lv = GBT39046_CODES.get(norm_value(code))
        if lv is None:
            return None, f"满意度代码 {code!r} is not a GB/T 39046 code 1..5", None
        candidates.append(("满意度代码", lv))
    word = get.get("level", "")
    if channel == "phone":
        status = norm_value(get.get("call_status", ""))
        if status and any(w in status for w in INVALID_CALL_WORDS):
            return None, None, f"not a valid call ({get['call_status']})"
        if status and not any(status == w or w in status for w in VALID_CALL_WORDS):
            return None, f"call status {get['call_status']!r} not understood", None
        if word and any(w in norm_value(word) for w in INVALID_CALL_WORDS):
            return None, None, f"not a valid call ({word})"
    if word:
        lv = parse_level_word(word)
        if lv is None:
            if norm_value(word).isdigit():
                return (
                    None,
                    (
                        f"result {word!r} is a bare digit; digits are ambiguous (some platforms "
                        "number levels in reverse): use the 满意度代码 column for GB/T 39046 codes"
                    ),
                    None,
                )
            return (
                None,
                f"result {word!r} is not a level (非常满意/满意/基本满意/不满意/非常不满意)",
                None,
            )
        candidates.append(("评价结果", lv))
    reply = get.get("reply", "")
    if channel == "sms" and "reply" in raw:
        norm = norm_value(reply)
        if norm in NO_REPLY_WORDS and not candidates:
            return None, None, "no SMS reply"
        if norm:
            # The SMS channel's own parser (server/sms/replies.py), then the import's words.
            parsed = parse_reply(reply, policy)
            lv = parsed.level if parsed.kind == "level" else parse_level_word(reply)
            if lv is None:
                return (
                    None,
                    f"SMS reply {reply!r} is not a rating (digits: {_digits_hint(policy)})",
                    None,
                )
            candidates.append(("回复内容", lv))
    if not candidates:
        if channel == "sms" and not word and not code:
            return None, None, "no SMS reply"
        return None, "no result (评价结果 / 满意度代码 empty)", None
    levels = {lv for _src, lv in candidates}
    if len(levels) > 1:
        detail = ", ".join(f"{src}={lv}" for src, lv in candidates)
        return None, f"columns disagree: {detail}", None
    return candidates[0][1], None, None


def _digits_hint(policy: Policy) -> str:
    return " ".join(f"{d}={lv}" for d, lv in sorted(policy.sms_reply_digits.items()))


def _code(value: str, kind: CodeKind, label: str) -> str | None:
    """A code cell: empty, or a code of server/codes.py's pattern (else a bad row)."""
    v = value.strip()
    if v and (problem := kind.problem(v, label)):
        raise ValueError(problem)
    return v or None


def _clean_code(value: str, what: str, max_len: int = 64) -> str | None:
    v = value.strip()
    if not v:
        return None
    if len(v) > max_len:
        raise ValueError(f"{what} {v[:20]!r}… is longer than {max_len} characters")
    return v


def _row_hash(parts: Iterable[str | None]) -> str:
    joined = "\x1f".join("" if p is None else p for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:20]


def parse_table(
    table: Table,
    *,
    channel: str,
    hall: str,
    policy: Policy | None = None,
    source: str = "import",
    now: datetime | None = None,
) -> ImportParse:
    """Turn a sheet into ingest records. Pure: no clock (pass ``now`` to refuse rows more
    than a day in the future, typos like 2062), no database.

    Keys are deterministic: ``{channel}:{hall}:id:{natural id}`` when the file has a record id
    (or 办件编号 + 评价次数), else ``{channel}:{hall}:h:{hash of the normalised row}:{n}`` where n
    counts identical rows within the file — so re-importing (even a re-export in another
    encoding or date format) adds nothing, and two identical ratings in one file both count.
    """
    result = ImportParse(channel=channel, hall=hall, encoding=table.encoding)
    for record, line in iter_records(
        table, channel=channel, hall=hall, policy=policy, source=source, now=now, into=result
    ):
        result.records.append(record)
        result.record_lines.append(line)
    return result


def iter_records(
    table: Table,
    *,
    channel: str,
    hall: str,
    policy: Policy | None = None,
    source: str = "import",
    now: datetime | None = None,
    into: ImportParse,
    keep_all: bool = True,
) -> Iterator[tuple[dict[str, Any], int]]:
    """The records of a sheet with their file lines, one at a time, as ``parse_table`` makes
    them; the header, counts and bad and skipped rows go into ``into``. Unless ``keep_all``,
    at most ``MAX_LISTED`` bad and skipped rows are listed there (all are counted and
    summarised by reason), so memory does not grow with them."""
    if channel not in IMPORT_CHANNELS:
        raise FileProblem(f"channel must be sms or phone, not {channel!r}")
    if HALL.problem(hall or ""):
        raise FileProblem(HALL.problem(hall or "", "hall code") or "")
    policy = policy or Policy.default()
    result = into
    rows = ((line, cells) for line, cells in table.rows if any(cell_text(c) for c in cells))
    head = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
    if not head:
        raise FileProblem("the file has no rows")
    header_idx, mapping = _find_header(head)
    header_line, header = head[header_idx]
    _check_mapping(header, mapping)
    result.header_line = header_line
    result.columns = {str(header[i]): f for i, f in mapping.items()}
    result.ignored_columns = [
        str(h) for i, h in enumerate(header) if i not in mapping and cell_text(h)
    ]
    # Natural keys seen: file line and a fingerprint of the record (not the record itself).
    seen_keys: dict[str, tuple[int, bytes]] = {}
    occurrences: dict[int, int] = {}
    bad: Callable[[RowProblem], None] = lambda p: result.add_bad(p, keep_all)  # noqa: E731
    skipped: Callable[[RowProblem], None] = lambda p: result.add_skipped(p, keep_all)  # noqa: E731
    for line, cells in itertools.chain(head[header_idx + 1 :], rows):
        raw = {f: cells[i] if i < len(cells) else None for i, f in mapping.items()}
        get = {f: cell_text(v) for f, v in raw.items()}
        try:
            record = _parse_row(get, raw, channel=channel, hall=hall, policy=policy, source=source)
            if now is not None and record["_instant"] > now + FUTURE_SLACK:
                raise ValueError(f"time {record['occurred_at']} is in the future")
        except _Skip as skip:
            skipped(RowProblem(line, str(skip)))
            continue
        except ValueError as exc:
            bad(RowProblem(line, str(exc)))
            continue
        del record["_instant"]
        natural = record.pop("_natural")
        digest = record.pop("_hash")
        if natural is not None:
            key = f"{channel}:{hall}:id:{natural}"
            fingerprint = hashlib.blake2b(repr(record).encode(), digest_size=16).digest()
            if key in seen_keys:
                first_line, first = seen_keys[key]
                if first == fingerprint:
                    skipped(RowProblem(line, f"same record as line {first_line}"))
                else:
                    bad(RowProblem(line, f"id {natural!r} already used on line {first_line}"))
                continue
            seen_keys[key] = (line, fingerprint)
        else:
            n = occurrences[int(digest, 16)] = occurrences.get(int(digest, 16), 0) + 1
            key = f"{channel}:{hall}:h:{digest}:{n}"
        record["key"] = key
        result.n_records += 1
        result.levels[record["level"]] += 1
        yield _ordered(record), line


class _Skip(Exception):
    pass


_RECORD_ORDER = (
    "key",
    "rev",
    "channel",
    "level",
    "occurred_at",
    "time_source",
    "hall",
    "window",
    "ticket",
    "staff",
    "device",
    "matter",
    "attribution",
    "flags",
    "source",
)


def _ordered(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in _RECORD_ORDER}


def _parse_row(
    get: dict[str, str],
    raw: dict[str, Any],
    *,
    channel: str,
    hall: str,
    policy: Policy,
    source: str,
) -> dict[str, Any]:
    row_channel = get.get("channel", "")
    if row_channel:
        mapped = CHANNEL_WORDS.get(norm_value(row_channel))
        if mapped is None:
            raise ValueError(f"评价渠道 {row_channel!r} is neither SMS (短信) nor phone (电话)")
        if mapped != channel:
            raise ValueError(f"评价渠道 {row_channel!r} is {mapped}, but importing {channel}")
    row_hall = get.get("hall", "")
    if row_hall and row_hall != hall:
        raise ValueError(f"hall {row_hall!r} is not the hall being imported ({hall})")
    level, problem, skip = _level_of_row(get, raw, channel, policy)
    if skip:
        raise _Skip(skip)
    if problem or level is None:
        raise ValueError(problem or "no result")
    occurred = parse_time(raw.get("time"), policy)
    window = _code(get.get("window", ""), WINDOW, "window (窗口)")
    staff = _code(get.get("staff", ""), STAFF, "staff (工号)")
    ticket = _code(get.get("ticket", ""), TICKET, "ticket (取号单号)")
    matter = _code(get.get("matter", ""), MATTER, "matter (事项编码)")
    case_id = _clean_code(get.get("case_id", ""), "办件编号", 64)
    record_id = _clean_code(get.get("record_id", ""), "record id", 128)
    count = get.get("count", "")
    if count and not count.isdigit():
        raise ValueError(f"评价次数 {count!r} is not a number")
    phone = get.get("phone", "")
    masked = mask_phone(phone) if phone else ""
    if phone and len(re.sub(r"\D", "", phone)) < 5:
        raise ValueError("phone number has fewer than 5 digits")
    natural: str | None = None
    if record_id:
        natural = record_id
    elif case_id:
        natural = f"{case_id}#{count or '1'}"
    if natural is not None and len(natural) > MAX_ID_LEN:
        natural = "sha-" + hashlib.sha256(natural.encode()).hexdigest()[:24]
    occurred_utc = occurred.astimezone(policy.tzinfo).isoformat()
    attributed = window or staff or ticket
    return {
        "rev": 0,
        "channel": channel,
        "level": level,
        "occurred_at": occurred_utc,
        "time_source": "import",
        "hall": hall,
        "window": window,
        "ticket": ticket,
        "staff": staff,
        "device": None,
        "matter": matter,
        "attribution": "attributed" if attributed else "unattributed",
        "flags": [],
        "source": source,
        "_natural": natural,
        "_instant": occurred,
        # Only the masked phone enters the hash: the key reveals nothing the mask does not.
        "_hash": _row_hash(
            (
                channel,
                hall,
                level,
                occurred.astimezone(policy.tzinfo).isoformat(),
                window,
                staff,
                ticket,
                matter,
                masked,
            )
        ),
    }
