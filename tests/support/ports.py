"""Free TCP ports on loopback for test services.

The port helpers themselves live in simulator/services.py (the simulator starts the same
processes); this module keeps the (host, port) argument order the tests use.
"""

from __future__ import annotations

import socket
import time

from simulator import services

free_port = services.free_port


def wait_port(host: str, port: int, timeout: float = 15.0) -> None:
    """Block until something accepts TCP connections on host:port, or raise TimeoutError."""
    services.wait_port(port, timeout=timeout, host=host)


def port_closed(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until host:port refuses connections, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.3):
                time.sleep(0.05)
        except OSError:
            return
    raise TimeoutError(f"{host}:{port} still accepting after {timeout}s")
