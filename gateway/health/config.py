"""hall.toml ``[health]``: the bounds of the device-health alarms and the push to the server.

[health]
low_heap_bytes = 16384   # free GC heap below this in the last heartbeat: alarm low_heap
tamper_hold_s = 3600     # a tamper alarm stays active this long after the device sent it
check_s = 5              # how often the gateway re-reads device health (gauges, alerts)
push_interval_s = 60     # a snapshot of every device goes to the server at least this often
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.config import ConfigError


@dataclass(frozen=True)
class HealthConfig:
    low_heap_bytes: int = 16384
    tamper_hold_s: float = 3600.0
    check_s: float = 5.0
    push_interval_s: float = 60.0


# Integral bounds are ints, so a message prints 1073741824, not 1.07374e+09.
_BOUNDS: dict[str, tuple[float, float]] = {
    "low_heap_bytes": (0, 1 << 30),
    "tamper_hold_s": (0, 30 * 86400),
    "check_s": (0.1, 3600),
    "push_interval_s": (1, 86400),
}


def parse_health(raw: Mapping[str, Any]) -> HealthConfig:
    """The ``[health]`` table of hall.toml (defaults where a key is absent)."""
    table = raw.get("health", {})
    if not isinstance(table, Mapping):
        raise ConfigError("health must be a table")
    unknown = sorted(set(table) - set(_BOUNDS))
    if unknown:
        raise ConfigError(f"health: unknown key {unknown[0]}")
    values: dict[str, Any] = {}
    for key, (lo, hi) in _BOUNDS.items():
        if key not in table:
            continue
        v = table[key]
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ConfigError(f"health.{key} must be a number, got {v!r}")
        if not lo <= v <= hi:
            raise ConfigError(f"health.{key} must be between {lo} and {hi}, got {v!r}")
        values[key] = int(v) if key == "low_heap_bytes" else float(v)
    return HealthConfig(**values)
