"""hall.toml ``[firmware]`` (the release store and its public key) and ``[rollout]`` (the
defaults of `hallrate firmware rollout start`), read from GatewayConfig.raw (docs/updates.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, GatewayConfig


@dataclass(frozen=True)
class Settings:
    """How a roll-out proceeds ([rollout], or `rollout start` options)."""

    canary: tuple[str, ...] = ()  # empty: the first device by id of each kind
    waves: tuple[int, ...] = (10, 50, 100)  # cumulative % of the devices after the canaries
    soak_s: float = 600.0
    max_failures: int = 1
    max_per_group: int = 1
    confirm_timeout_s: float = 1800.0

    def to_json(self) -> dict[str, Any]:
        return {
            "canary": list(self.canary),
            "waves": list(self.waves),
            "soak_s": self.soak_s,
            "max_failures": self.max_failures,
            "max_per_group": self.max_per_group,
            "confirm_timeout_s": self.confirm_timeout_s,
        }


@dataclass(frozen=True)
class FirmwareConfig:
    releases: Path
    pubkey: Path
    fetch_per_s: float = 20.0  # chunks a device may fetch per second (a burst of twice that)
    rollout: Settings = Settings()


def check_settings(s: Settings, devices: Mapping[str, Any] | None = None) -> Settings:
    """ConfigError for settings no roll-out can run with."""
    if not s.waves or any(not 1 <= w <= 100 for w in s.waves):
        raise ConfigError("rollout.waves must be percentages 1..100")
    if list(s.waves) != sorted(set(s.waves)) or s.waves[-1] != 100:
        raise ConfigError("rollout.waves must increase and end at 100, e.g. [10, 50, 100]")
    if s.soak_s < 0 or s.confirm_timeout_s <= 0:
        raise ConfigError("rollout.soak_s must be >= 0 and rollout.confirm_timeout_s > 0")
    if s.max_failures < 1 or s.max_per_group < 1:
        raise ConfigError("rollout.max_failures and rollout.max_per_group must be at least 1")
    if devices is not None:
        unknown = [d for d in s.canary if d not in devices]
        if unknown:
            raise ConfigError(f"rollout.canary: unknown device {', '.join(unknown)}")
    return s


def _num(table: Mapping[str, Any], key: str, default: float, what: str) -> float:
    v = table.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ConfigError(f"{what}.{key} must be a number")
    return float(v)


def _int(table: Mapping[str, Any], key: str, default: int, what: str) -> int:
    v = table.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{what}.{key} must be an integer")
    return v


def _known(table: Mapping[str, Any], keys: tuple[str, ...], what: str) -> None:
    """ConfigError for a key of ``table`` not in ``keys`` (like [health]'s)."""
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise ConfigError(f"{what}: unknown key {unknown[0]}")


def parse_settings(table: Any, devices: Mapping[str, Any] | None = None) -> Settings:
    if not isinstance(table, Mapping):
        raise ConfigError("rollout must be a table")
    _known(table, tuple(Settings().to_json()), "rollout")
    canary = table.get("canary", [])
    waves = table.get("waves", [10, 50, 100])
    if not isinstance(canary, list) or not all(isinstance(d, str) for d in canary):
        raise ConfigError("rollout.canary must be a list of device ids")
    if not isinstance(waves, list) or not all(
        isinstance(w, int) and not isinstance(w, bool) for w in waves
    ):
        raise ConfigError("rollout.waves must be a list of integers")
    s = Settings(
        canary=tuple(canary),
        waves=tuple(waves),
        soak_s=_num(table, "soak_s", 600, "rollout"),
        max_failures=_int(table, "max_failures", 1, "rollout"),
        max_per_group=_int(table, "max_per_group", 1, "rollout"),
        confirm_timeout_s=_num(table, "confirm_timeout_s", 1800, "rollout"),
    )
    return check_settings(s, devices)


def firmware_config(cfg: GatewayConfig) -> FirmwareConfig:
    """[firmware] and [rollout] of ``cfg`` (paths relative to hall.toml's directory)."""
    fw = cfg.raw.get("firmware", {})
    if not isinstance(fw, Mapping):
        raise ConfigError("firmware must be a table")
    _known(fw, ("releases", "pubkey", "fetch_per_s"), "firmware")
    for key, what in (("releases", "a directory path"), ("pubkey", "a file path")):
        value = fw.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"firmware.{key} must be {what}, got {value!r}")
    rate = _num(fw, "fetch_per_s", 20, "firmware")
    if rate <= 0:
        raise ConfigError("firmware.fetch_per_s must be above 0")
    return FirmwareConfig(
        releases=cfg.base_dir / str(fw.get("releases", "var/releases")),
        pubkey=cfg.base_dir / str(fw.get("pubkey", "keys/release.pub")),
        fetch_per_s=rate,
        rollout=parse_settings(cfg.raw.get("rollout", {}), cfg.devices),
    )
