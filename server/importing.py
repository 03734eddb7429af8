"""Parse spreadsheets of SMS replies and phone call-back results (CSV in UTF-8 / UTF-8-SIG /
GB18030 / UTF-16, or XLSX) into ingest records; every bad row gets its line number and reason."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from server.policy import LEVELS, Policy

ImportChannel = Literal["sms", "phone"]
IMPORT_CHANNELS: tuple[str, ...] = ("sms", "phone")
HEADER_SEARCH_ROWS = 10
MAX_ID_LEN = 40
FUTURE_SLACK = timedelta(days=1)

# ---- header aliases -----------------------------------------------------------------------
# Compared after _norm_header(): NFKC (full-width -> ASCII), lower case, no spaces, no
# punctuation such as "*", "(", "_" — so "评价时间(YYYYMMDDThhmmss)" matches "评价时间".
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "record_id": (
        "记录编号",
        "记录id",
        "评价编号",
        "评价id",
        "短信id",
        "短信编号",
        "回访编号",
        "回访id",
        "流水号",
        "id",
        "recordid",
        "messageid",
        "msgid",
        "callid",
        "evaluationid",
    ),
    "case_id": ("办件编号", "办件号", "办件流水号", "caseid", "caseno", "projectid"),
    "count": ("评价次数", "次数", "evaluationcount", "count"),
    "phone": (
        "手机号",
        "手机号码",
        "手机",
        "电话",
        "电话号码",
        "联系电话",
        "回访电话",
        "被回访人电话",
        "phone",
        "mobile",
        "tel",
        "phonenumber",
    ),
    "level": (
        "评价结果",
        "满意度",
        "评价",
        "评价等级",
        "回访结果",
        "满意程度",
        "result",
        "level",
        "satisfaction",
        "rating",
    ),
    "level_code": ("满意度代码", "评价代码", "满意度编码", "levelcode", "satisfactioncode", "code"),
    "reply": ("回复内容", "短信回复", "回复", "上行内容", "reply", "replytext", "smsreply"),
    "call_status": (
        "回访状态",
        "接通状态",
        "通话状态",
        "呼叫结果",
        "是否接通",
        "callstatus",
        "status",
    ),
    "time": (
        "评价时间",
        "回访时间",
        "回复时间",
        "上行时间",
        "时间",
        "日期",
        "评价日期",
        "回访日期",
        "time",
        "occurredat",
        "evaluatedat",
        "replytime",
        "calltime",
        "datetime",
        "date",
    ),
    "window": ("窗口", "窗口号", "窗口编号", "window", "windowcode"),
    "staff": ("工号", "人员工号", "工作人员工号", "staff", "staffid", "staffno"),
    "ticket": ("取号单号", "票号", "排队号", "取号号码", "ticket", "ticketno", "ticketnumber"),
    "matter": ("事项编码", "事项编号", "事项代码", "matter", "mattercode"),
    "channel": ("评价渠道", "渠道", "channel"),
    "hall": ("大厅", "大厅编码", "hall", "hallcode"),
    # Recognised so they are not reported as unknown; never stored (free text, personal data).
    "comment": (
        "文字评价",
        "评价内容",
        "评价意见",
        "意见建议",
        "备注",
        "comment",
        "text",
        "remark",
    ),
    "person": ("评价人", "姓名", "被回访人", "name", "evaluator"),
    "region": ("行政区划", "行政区划代码", "region", "regioncode"),
    "serial": ("序号", "no", "#"),
}
_ALIAS_TO_FIELD = {alias: f for f, aliases in FIELD_ALIASES.items() for alias in aliases}


def _norm_header(text: Any) -> str:
    s = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    s = re.sub(r"[(（\[【].*?[)）\]】]", "", s)  # drop "(YYYYMMDD…)" annotations
    return re.sub(r"[\s_\-*:：./]", "", s)


def field_for_header(header: Any) -> str | None:
    return _ALIAS_TO_FIELD.get(_norm_header(header))


# ---- values -------------------------------------------------------------------------------

LEVEL_WORDS: dict[str, str] = {
    "非常满意": "very_satisfied",
    "很满意": "very_satisfied",
    "满意": "satisfied",
    "基本满意": "basically_satisfied",
    "比较满意": "basically_satisfied",
    "一般": "basically_satisfied",
    "不满意": "dissatisfied",
    "非常不满意": "very_dissatisfied",
    "很不满意": "very_dissatisfied",
}
for _lv in LEVELS:
    LEVEL_WORDS[_lv] = _lv
    LEVEL_WORDS[_lv.replace("_", "")] = _lv
LEVEL_WORDS.update({"unsatisfied": "dissatisfied", "veryunsatisfied": "very_dissatisfied"})

GBT39046_CODES: dict[str, str] = {str(i + 1): lv for i, lv in enumerate(LEVELS)}

# Phone call-back outcomes that are not a valid call (回访有效电话数 excludes them).
INVALID_CALL_WORDS = (
    "无效",
    "未接通",
    "未接",
    "无人接听",
    "空号",
    "关机",
    "停机",
    "拒接",
    "忙音",
    "占线",
    "挂断",
    "号码错误",
    "无法接通",
    "不在服务区",
    "invalid",
    "noanswer",
    "unreachable",
    "notconnected",
    "busy",
    "refused",
    "failed",
    "否",
    "不是",
)
VALID_CALL_WORDS = (
    "已接通",
    "接通",
    "有效",
    "成功",
    "正常",
    "是",
    "connected",
    "valid",
    "ok",
    "yes",
)
NO_REPLY_WORDS = ("", "未回复", "无回复", "noreply", "none", "-", "—")

CHANNEL_WORDS: dict[str, str] = {
    "短信": "sms",
    "短信评价": "sms",
    "sms": "sms",
    "07": "sms",
    "电话": "phone",
    "电话回访": "phone",
    "phone": "phone",
    "06": "phone",
}


def _norm_value(value: Any) -> str:
    s = unicodedata.normalize("NFKC", str(value)).strip().lower()
    return re.sub(r"[\s_\-.。!！,，、]", "", s)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_level_word(value: Any) -> str | None:
    return LEVEL_WORDS.get(_norm_value(value))


def mask_phone(phone: str) -> str:
    """Keep the first 3 and last 4 digits: 13812345678 -> 138****5678 (shorter: last 2)."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) >= 7:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) > 2:
        return "*" * (len(digits) - 2) + digits[-2:]
    return "*" * len(digits)


_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y%m%dT%H%M%S",  # GB/T 39046 评价时间
    "%Y%m%d%H%M%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M:%S",
    "%Y年%m月%d日%H:%M",
)
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日")


def parse_time(value: Any, policy: Policy) -> datetime:
    """An instant from a cell: ISO 8601 with offset, local text formats, XLSX datetimes or
    Excel serial numbers. Times without an offset are hall-local (policy.timezone); a bare
    date means local midnight. Raises ValueError with a reason."""
    tz = policy.tzinfo
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time(0))
    elif isinstance(value, int) and len(str(value)) in (8, 14):
        result = _parse_time_text(str(value))  # 20261105 or 20261105090000 typed as a number
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not 20000 < value < 80000:
            raise ValueError(f"time {value!r} is neither a date nor an Excel date number")
        from openpyxl.utils.datetime import from_excel

        converted = from_excel(value)
        if not isinstance(converted, datetime):
            raise ValueError(f"time {value!r} is not a date")
        result = converted.replace(microsecond=0)
    else:
        text = unicodedata.normalize("NFKC", str(value or "")).strip()
        if not text:
            raise ValueError("time is empty")
        result = _parse_time_text(text)
    if result.tzinfo is None:
        result = result.replace(tzinfo=tz)
    if not 2000 <= result.astimezone(tz).year <= 2099:
        raise ValueError(f"time {value!s} is outside 2000..2099")
    return result.astimezone(tz)


def _parse_time_text(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"time {text!r} not understood (use e.g. 2026-11-23 10:15:00)")


# ---- tables -------------------------------------------------------------------------------


@dataclass
class Table:
    """A sheet: data rows with the line (CSV) or row (XLSX) number a user sees."""

    rows: list[tuple[int, list[Any]]]
    encoding: str | None = None


def decode_csv_bytes(data: bytes) -> tuple[str, str]:
    """Text and encoding name. BOMs first, then strict UTF-8, then GB18030 (superset of GBK)."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16"), "utf-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"file is neither UTF-8 nor GB18030/GBK (byte {exc.start}); re-export as UTF-8"
        ) from exc


def read_csv_bytes(data: bytes) -> Table:
    text, encoding = decode_csv_bytes(data)
    first = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[Any]]] = []
    start = 1
    for row in reader:
        rows.append((start, list(row)))
        start = reader.line_num + 1
    return Table(rows, encoding)


def read_xlsx(path: str | Path, sheet: str | None = None) -> Table:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise ValueError(f"no sheet {sheet!r}; sheets: {', '.join(wb.sheetnames)}")
        ws = wb[sheet] if sheet else wb.worksheets[0]
        rows = [(i, list(r)) for i, r in enumerate(ws.iter_rows(values_only=True), start=1)]
    finally:
        wb.close()
    return Table(rows, None)


def read_table(path: str | Path, sheet: str | None = None) -> Table:
    p = Path(path)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return read_xlsx(p, sheet)
    if p.suffix.lower() == ".xls":
        raise ValueError("old .xls files are not read; save the sheet as .xlsx or CSV")
    return read_csv_bytes(p.read_bytes())


# ---- parsing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str


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

    @property
    def ok(self) -> bool:
        return not self.bad

    def level_counts(self) -> dict[str, int]:
        out = {lv: 0 for lv in LEVELS}
        for r in self.records:
            out[r["level"]] += 1
        return out


class FileProblem(ValueError):
    """The file as a whole cannot be read (no header, no level column, unreadable)."""


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
        lv = GBT39046_CODES.get(_norm_value(code))
        if lv is None:
            return None, f"满意度代码 {code!r} is not a GB/T 39046 code 1..5", None
        candidates.append(("满意度代码", lv))
    word = get.get("level", "")
    if channel == "phone":
        status = _norm_value(get.get("call_status", ""))
        if status and any(w in status for w in INVALID_CALL_WORDS):
            return None, None, f"not a valid call ({get['call_status']})"
        if status and not any(status == w or w in status for w in VALID_CALL_WORDS):
            return None, f"call status {get['call_status']!r} not understood", None
        if word and any(w in _norm_value(word) for w in INVALID_CALL_WORDS):
            return None, None, f"not a valid call ({word})"
    if word:
        lv = parse_level_word(word)
        if lv is None:
            if _norm_value(word).isdigit():
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
        norm = _norm_value(reply)
        if norm in NO_REPLY_WORDS and not candidates:
            return None, None, "no SMS reply"
        if norm:
            lv = policy.sms_reply_digits.get(norm) if norm.isdigit() else parse_level_word(reply)
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
    if channel not in IMPORT_CHANNELS:
        raise FileProblem(f"channel must be sms or phone, not {channel!r}")
    if not hall or len(hall) > 32:
        raise FileProblem("hall code must be 1..32 characters")
    policy = policy or Policy.default()
    result = ImportParse(channel=channel, hall=hall, encoding=table.encoding)
    rows = [(line, cells) for line, cells in table.rows if any(_cell_text(c) for c in cells)]
    if not rows:
        raise FileProblem("the file has no rows")
    header_idx, mapping = _find_header(rows)
    header_line, header = rows[header_idx]
    _check_mapping(header, mapping)
    result.header_line = header_line
    result.columns = {str(header[i]): f for i, f in mapping.items()}
    result.ignored_columns = [
        str(h) for i, h in enumerate(header) if i not in mapping and _cell_text(h)
    ]
    seen_keys: dict[str, tuple[int, dict[str, Any]]] = {}
    occurrences: dict[str, int] = {}
    for line, cells in rows[header_idx + 1 :]:
        raw = {f: cells[i] if i < len(cells) else None for i, f in mapping.items()}
        get = {f: _cell_text(v) for f, v in raw.items()}
        try:
            record = _parse_row(get, raw, channel=channel, hall=hall, policy=policy, source=source)
            if now is not None and record["_instant"] > now + FUTURE_SLACK:
                raise ValueError(f"time {record['occurred_at']} is in the future")
        except _Skip as skip:
            result.skipped.append(RowProblem(line, str(skip)))
            continue
        except ValueError as exc:
            result.bad.append(RowProblem(line, str(exc)))
            continue
        del record["_instant"]
        natural = record.pop("_natural")
        digest = record.pop("_hash")
        if natural is not None:
            key = f"{channel}:{hall}:id:{natural}"
            if key in seen_keys:
                first_line, first = seen_keys[key]
                if first == record:
                    result.skipped.append(RowProblem(line, f"same record as line {first_line}"))
                else:
                    result.bad.append(
                        RowProblem(line, f"id {natural!r} already used on line {first_line}")
                    )
                continue
        else:
            occurrences[digest] = occurrences.get(digest, 0) + 1
            key = f"{channel}:{hall}:h:{digest}:{occurrences[digest]}"
        seen_keys[key] = (line, dict(record))
        record["key"] = key
        result.records.append(_ordered(record))
        result.record_lines.append(line)
    return result


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
        mapped = CHANNEL_WORDS.get(_norm_value(row_channel))
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
    window = _clean_code(get.get("window", ""), "window", 16)
    staff = _clean_code(get.get("staff", ""), "staff", 32)
    ticket = _clean_code(get.get("ticket", ""), "ticket", 32)
    matter = _clean_code(get.get("matter", ""), "matter", 64)
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
