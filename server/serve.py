"""`hallrate server`: run the server with uvicorn, optionally migrating the database first."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from typing import Any

from server.settings_cli import load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hallrate server", description=__doc__)
    parser.add_argument("--host", help="listen address (default HALLRATE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default HALLRATE_PORT or 8470)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default HALLRATE_DATABASE_URL)")
    parser.add_argument("--migrate", action="store_true", help="run migrations before serving")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (SQLite writes still serialise)"
    )
    parser.add_argument("--log-level", default="info")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    if args.database_url:
        overrides["database_url"] = args.database_url
    logging.basicConfig(level=args.log_level.upper())
    settings = load_settings("server", sys.stdout, **overrides)
    try:
        settings.check()
    except ValueError as exc:
        print(f"hallrate server: {exc}")
        return 2
    if args.migrate:
        from server.migrate import upgrade

        upgrade(settings.resolved_database_url)

    import uvicorn

    from server.app import create_app

    try:
        app = create_app(settings)
    except ValueError as exc:
        print(f"hallrate server: {exc}")
        return 2
    if args.workers > 1:
        # Each worker process builds its own app from the environment.
        app.state.engine.dispose()
        os.environ.update({f"HALLRATE_{k.upper()}": str(v) for k, v in overrides.items()})
        uvicorn.run(
            "server.serve:worker_app",
            factory=True,
            workers=args.workers,
            host=settings.host,
            port=settings.port,
            log_level=args.log_level,
        )
        return 0
    freeze_startup_heap()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level)
    return 0


def freeze_startup_heap() -> None:
    """Keep what start-up built (modules, the app, its routes and models) out of the cyclic
    garbage collector's full collections, which otherwise walked all of it again and again:
    each ingest batch promotes thousands of short-lived records to the oldest generation.
    Measured: a fifth of the server's CPU time per 1,000-record batch (docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()


def worker_app() -> Any:
    """The app of one of several worker processes (uvicorn's factory), built from the
    environment, with its start-up heap frozen as in a single process."""
    from server.app import create_app

    app = create_app()
    freeze_startup_heap()
    return app


if __name__ == "__main__":
    raise SystemExit(main())
