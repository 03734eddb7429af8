"""Parse spreadsheets of SMS replies and phone call-back results (CSV in UTF-8 / UTF-8-SIG /
GB18030 / UTF-16, or XLSX) into ingest records; every bad row gets its line number and reason.

``readers`` reads files into tables, ``headers`` and ``values`` understand columns and cells,
``rows`` turns a table into records.
"""

from server.importing.headers import FIELD_ALIASES, field_for_header
from server.importing.readers import (
    FileProblem,
    ReadLimits,
    Table,
    decode_csv_bytes,
    read_csv_bytes,
    read_table,
    read_xlsx,
)
from server.importing.rows import (
    FUTURE_SLACK,
    HEADER_SEARCH_ROWS,
    IMPORT_CHANNELS,
    MAX_ID_LEN,
    MAX_LISTED,
    ImportChannel,
    ImportParse,
    ReasonSummary,
    RowProblem,
    iter_records,
    parse_table,
)
from server.importing.values import (
    CHANNEL_WORDS,
    GBT39046_CODES,
    INVALID_CALL_WORDS,
    LEVEL_WORDS,
    NO_REPLY_WORDS,
    VALID_CALL_WORDS,
    mask_phone,
    parse_level_word,
    parse_time,
)

__all__ = [
    "CHANNEL_WORDS",
    "FIELD_ALIASES",
    "FUTURE_SLACK",
    "GBT39046_CODES",
    "HEADER_SEARCH_ROWS",
    "IMPORT_CHANNELS",
    "INVALID_CALL_WORDS",
    "LEVEL_WORDS",
    "MAX_ID_LEN",
    "MAX_LISTED",
    "NO_REPLY_WORDS",
    "VALID_CALL_WORDS",
    "FileProblem",
    "ImportChannel",
    "ImportParse",
    "ReadLimits",
    "ReasonSummary",
    "RowProblem",
    "Table",
    "decode_csv_bytes",
    "field_for_header",
    "iter_records",
    "mask_phone",
    "parse_level_word",
    "parse_table",
    "parse_time",
    "read_csv_bytes",
    "read_table",
    "read_xlsx",
]
