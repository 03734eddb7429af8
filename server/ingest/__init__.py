"""Idempotent batch ingest of evaluations and tickets, with aggregates in the same transaction.

Used by the gateway endpoint and by the spreadsheet importer. Each record is checked on its
own: bad records are rejected with a reason, good records in the same batch land.

``records`` checks (pure, no database), ``evaluations`` and ``tickets`` store, ``rows`` holds the
evaluation rows' SQL helpers.
"""

from server.ingest.evaluations import ingest_evaluations, store_evaluations
from server.ingest.principals import DEVICE_CHANNELS, IMPORT_CHANNELS, Submitter
from server.ingest.records import (
    MAX_BATCH,
    MAX_FLAGS,
    EvaluationIn,
    IngestResult,
    RecordError,
    Rejection,
    TicketIn,
    check_evaluation,
    check_evaluations,
    check_ticket,
    check_tickets,
    parse_instant,
)
from server.ingest.tickets import ingest_tickets, store_tickets

__all__ = [
    "DEVICE_CHANNELS",
    "IMPORT_CHANNELS",
    "MAX_BATCH",
    "MAX_FLAGS",
    "EvaluationIn",
    "IngestResult",
    "RecordError",
    "Rejection",
    "Submitter",
    "TicketIn",
    "check_evaluation",
    "check_evaluations",
    "check_ticket",
    "check_tickets",
    "ingest_evaluations",
    "ingest_tickets",
    "parse_instant",
    "store_evaluations",
    "store_tickets",
]
