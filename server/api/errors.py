"""Exception handlers: every client mistake becomes a 4xx with a message, never a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from server.db import describe_db_error
from server.periods import PeriodError

log = logging.getLogger(__name__)


def _message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()[:20]
    ]
    return JSONResponse({"detail": _message(exc), "errors": errors}, status_code=422)


async def _integrity(_request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity error: %s", describe_db_error(exc))
    return JSONResponse(
        {"detail": "conflict: a record with this code already exists, or the record is in use"},
        status_code=409,
    )


async def _data(_request: Request, exc: Exception) -> JSONResponse:
    # A value the database cannot hold (out of range, NUL in text) that validation let through.
    log.info("data error: %s", describe_db_error(exc))
    return JSONResponse(
        {"detail": "a value is out of range or contains characters that cannot be stored"},
        status_code=422,
    )


async def _operational(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", describe_db_error(exc))
    return JSONResponse({"detail": "database busy or unavailable; retry"}, status_code=503)


async def _period(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=400)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DataError, _data)
    app.add_exception_handler(OperationalError, _operational)
    app.add_exception_handler(PeriodError, _period)
