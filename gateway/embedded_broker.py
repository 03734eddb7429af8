"""The embedded MQTT broker (amqtt) that `hallrate up` runs when no broker URL is given.

Correctness never relies on it keeping messages: see docs/adr/0003-brokers.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Any

log = logging.getLogger("hallrate.broker")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 11883


def broker_config(host: str, port: int) -> dict[str, Any]:
    """amqtt configuration: one TCP listener, anonymous access, no $SYS chatter."""
    return {
        "listeners": {
            "default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 5000}
        },
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }


async def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the broker until `stop` is set (or forever)."""
    from amqtt.broker import Broker

    broker = Broker(broker_config(host, port))
    await broker.start()
    log.info("embedded broker listening on mqtt://%s:%d", host, port)
    if ready is not None:
        ready.set()
    try:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        with contextlib.suppress(Exception):
            await broker.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hallrate broker",
        description="Run the embedded MQTT broker (amqtt). For a hall in production use "
        "Mosquitto with the shipped gateway/mosquitto/hallrate.conf.",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(args.host, args.port, stop=stop)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
