"""The hall gateway's configuration: hall.toml loaded, validated and turned into typed values.

Everything a hall differs in lives here (devices, windows, adapters, policy); see
gateway/hall.example.toml for a commented example.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from firmware import wire, wire_gw
from gateway.hours import HoursError, OpeningHours, parse_hours

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:11883"
DEFAULT_SERVER_URL = "http://127.0.0.1:8470"
DEFAULT_HTTP_PORT = 8471


class ConfigError(ValueError):
    """hall.toml is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class BrokerConfig:
    host: str = "127.0.0.1"
    port: int = 11883
    username: str | None = None
    password: str | None = None
    client_id: str = "hallrate-gw"
    keepalive: int = 30
    tls: bool = False  # an mqtts:// url; its files: [broker] ca_file etc. (gateway/tls/client.py)


@dataclass(frozen=True)
class ServerConfig:
    url: str = DEFAULT_SERVER_URL
    api_key: str = ""
    gateway_id: str = "gw"
    timeout_s: float = 10.0


@dataclass(frozen=True)
class DeviceConfig:
    device: str
    kind: str  # evaluator | ballot_box
    window: str | None
    # Window group (e.g. a counter bank): roll-outs update at most K devices of a group at once
    # in opening hours. Default: the device's window, or "exit" for a device with none.
    group: str = ""


@dataclass(frozen=True)
class SerialAdapter:
    port: str
    baudrate: int = 9600


@dataclass(frozen=True)
class Policy:
    """Attribution policy; the pure attribution core receives exactly this."""

    rating_window_s: int = 120  # a press counts for the ticket finished at its window within this
    clock_skew_s: int = 5  # tolerance between device clocks and the queue system's clock
    count_no_ticket: bool = False  # does a press with no open request count?
    tz: str = "Asia/Shanghai"


@dataclass(frozen=True)
class OnlineConfig:
    """[online]: rating links (二维码评价) the gateway signs offline when a ticket finishes
    (gateway/rating_links.py; docs/gateway.md, "Rating links")."""

    enabled: bool = False
    base_url: str = ""  # the server's public URL; a link is <base_url>/r/<token>
    link_days: int = 30  # a link expires this many days after it is issued


ONLINE_KEYS = frozenset({"enabled", "base_url", "link_days"})
LINK_DAYS_MAX = 92


@dataclass(frozen=True)
class GatewayConfig:
    hall: str
    broker: BrokerConfig
    server: ServerConfig
    journal_path: Path
    http_host: str = "127.0.0.1"
    http_port: int = DEFAULT_HTTP_PORT
    queue_token: str = ""
    devices: dict[str, DeviceConfig] = field(default_factory=dict)
    windows: tuple[str, ...] = ()
    staff_names: dict[str, str] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    request_ttl_s: int = 60
    evaluator_levels: tuple[str, ...] = wire.LEVELS
    heartbeat_s: int = 30
    serial: tuple[SerialAdapter, ...] = ()
    http_enabled: bool = True
    mqtt_queue_enabled: bool = True
    batch_size: int = 200
    forward_interval_s: float = 1.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 60.0
    gap_grace_s: float = 5.0
    gap_resend_interval_s: float = 10.0
    gap_max_attempts: int = 3
    device_offline_s: float = 120.0
    attribution_horizon_h: float = 48.0
    hours: OpeningHours = field(default_factory=OpeningHours)
    online: OnlineConfig = field(default_factory=OnlineConfig)
    # The whole parsed hall.toml and its directory: sub-packages (gateway/ota/, TLS) read their
    # own sections from here with their own parsers, so this module does not grow with them.
    raw: Mapping[str, Any] = field(default_factory=dict)
    base_dir: Path = Path(".")

    def devices_at(self, window: str, kind: str = "evaluator") -> list[str]:
        return sorted(
            d.device for d in self.devices.values() if d.window == window and d.kind == kind
        )

    def device_windows(self) -> dict[str, str | None]:
        return {d.device: d.window for d in self.devices.values()}


def parse_mqtt_url(url: str, base: BrokerConfig) -> BrokerConfig:
    """mqtt://user:password@host:port (or mqtts:// for TLS) → BrokerConfig (other fields kept
    from base)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp", "mqtts"):
        raise ConfigError(f"broker url must be mqtt://host:port or mqtts://host:port, got {url!r}")
    tls = parts.scheme == "mqtts"
    if not parts.hostname:
        raise ConfigError(f"broker url has no host: {url!r}")
    return BrokerConfig(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else base.username,
        password=unquote(parts.password) if parts.password else base.password,
        client_id=base.client_id,
        keepalive=base.keepalive,
        tls=tls,
    )


def _get(table: dict[str, Any], key: str, typ: type | tuple[type, ...], default: Any) -> Any:
    value = table.get(key, default)
    if value is not None and not isinstance(value, typ):
        raise ConfigError(f"{key} must be {typ}, got {value!r}")
    if isinstance(value, bool) and typ in (int, float, (int, float)):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    return value


def load(path: str | Path, env: dict[str, str] | None = None) -> GatewayConfig:
    """Read and validate hall.toml; HALLRATE_MQTT_URL / HALLRATE_SERVER_URL override the file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: {e}") from None
    environ: Mapping[str, str] = os.environ if env is None else env
    cfg = from_dict(data, base_dir=p.parent, env=environ)
    if environ.get("HALLRATE_ENVIRONMENT", "dev") == "production":
        check_production(cfg)
    return cfg


def from_dict(
    data: dict[str, Any], base_dir: Path = Path("."), env: Mapping[str, str] | None = None
) -> GatewayConfig:
    env = env or {}
    hall = data.get("hall")
    if not isinstance(hall, str) or not wire._valid_id(hall):
        raise ConfigError("hall must be a hall code such as 'H1' (letters, digits, -_.)")

    b = data.get("broker", {})
    base_broker = BrokerConfig(
        username=_get(b, "username", str, f"gateway@{hall}"),
        password=_get(b, "password", str, None),
        client_id=_get(b, "client_id", str, f"hallrate-gw-{hall}"),
        keepalive=_get(b, "keepalive", int, 30),
    )
    broker = parse_mqtt_url(
        env.get("HALLRATE_MQTT_URL") or b.get("url", DEFAULT_MQTT_URL), base_broker
    )

    s = data.get("server", {})
    server = ServerConfig(
        url=(env.get("HALLRATE_SERVER_URL") or _get(s, "url", str, DEFAULT_SERVER_URL)).rstrip("/"),
        api_key=_get(s, "api_key", str, ""),
        gateway_id=_get(s, "gateway_id", str, f"gw-{hall}"),
        timeout_s=float(_get(s, "timeout_s", (int, float), 10.0)),
    )

    j = data.get("journal", {})
    journal_path = Path(_get(j, "path", str, "gateway-journal.db"))
    if not journal_path.is_absolute():
        journal_path = base_dir / journal_path

    h = data.get("http", {})
    policy_t = data.get("attribution", {})
    policy = Policy(
        rating_window_s=_get(policy_t, "rating_window_s", int, 120),
        clock_skew_s=_get(policy_t, "clock_skew_s", int, 5),
        count_no_ticket=_get(policy_t, "count_no_ticket", bool, False),
        tz=_get(policy_t, "tz", str, env.get("HALLRATE_TZ", "Asia/Shanghai")),
    )
    if policy.rating_window_s <= 0:
        raise ConfigError("attribution.rating_window_s must be > 0")

    windows = tuple(_get(data, "windows", list, []))
    devices: dict[str, DeviceConfig] = {}
    for dev_id, d in (data.get("devices") or {}).items():
        if not wire._valid_id(dev_id):
            raise ConfigError(f"bad device id {dev_id!r}")
        if not isinstance(d, dict):
            raise ConfigError(f"devices.{dev_id} must be a table")
        kind = d.get("kind", "evaluator")
        if kind not in wire.DEVICE_KINDS:
            raise ConfigError(f"devices.{dev_id}.kind must be one of {wire.DEVICE_KINDS}")
        window = d.get("window")
        if kind == "evaluator" and not window:
            raise ConfigError(f"evaluator {dev_id} needs a window")
        if window is not None and windows and window not in windows:
            raise ConfigError(f"devices.{dev_id}.window {window!r} is not in windows")
        explicit_group = d.get("group")
        if explicit_group is not None and not isinstance(explicit_group, str):
            raise ConfigError(f"devices.{dev_id}.group must be a string, got {explicit_group!r}")
        # A default group is the window, whose own bounds _check_wire_bounds reports.
        if explicit_group and not wire._valid_id(explicit_group):
            raise ConfigError(f"devices.{dev_id}.group must be a code (letters, digits, -_.)")
        group = explicit_group or window or "exit"
        devices[dev_id] = DeviceConfig(dev_id, kind, window, group)

    staff = data.get("staff", {})
    if not isinstance(staff, dict):
        raise ConfigError("staff must be a table of 工号 = name")

    levels = tuple(_get(data.get("rating", {}), "levels", list, list(wire.LEVELS)))
    for lv in levels:
        if lv not in wire.LEVELS:
            raise ConfigError(f"rating.levels: unknown level {lv!r}")

    adapters = data.get("adapters", {})
    serial = tuple(
        SerialAdapter(port=str(a["port"]), baudrate=int(a.get("baudrate", 9600)))
        for a in adapters.get("serial", [])
    )
    fwd = data.get("forward", {})
    gaps = data.get("gaps", {})
    cfg = GatewayConfig(
        hall=hall,
        broker=broker,
        server=server,
        journal_path=journal_path,
        http_host=_get(h, "host", str, "127.0.0.1"),
        http_port=_get(h, "port", int, DEFAULT_HTTP_PORT),
        queue_token=_get(h, "queue_token", str, ""),
        devices=devices,
        windows=windows,
        staff_names={str(k): str(v) for k, v in staff.items()},
        policy=policy,
        request_ttl_s=_get(data.get("rating", {}), "request_ttl_s", int, 60),
        evaluator_levels=levels,
        heartbeat_s=_get(data.get("rating", {}), "heartbeat_s", int, 30),
        serial=serial,
        http_enabled=bool(adapters.get("http", {}).get("enabled", True)),
        mqtt_queue_enabled=bool(adapters.get("mqtt", {}).get("enabled", True)),
        batch_size=_get(fwd, "batch_size", int, 200),
        forward_interval_s=float(_get(fwd, "interval_s", (int, float), 1.0)),
        backoff_initial_s=float(_get(fwd, "backoff_initial_s", (int, float), 0.5)),
        backoff_max_s=float(_get(fwd, "backoff_max_s", (int, float), 60.0)),
        gap_grace_s=float(_get(gaps, "grace_s", (int, float), 5.0)),
        gap_resend_interval_s=float(_get(gaps, "resend_interval_s", (int, float), 10.0)),
        gap_max_attempts=_get(gaps, "max_attempts", int, 3),
        device_offline_s=float(_get(data.get("presence", {}), "offline_s", (int, float), 120.0)),
        hours=_hours(data.get("hours", {}), policy.tz),
        online=_online(data.get("online", {}), server),
        raw=data,
        base_dir=base_dir,
    )
    _check_wire_bounds(cfg)
    from gateway.tls.client import broker_tls  # [broker] ca_file/cert_file/key_file, checked

    broker_tls(cfg)
    return cfg


def _hours(table: Any, tz: str) -> OpeningHours:
    try:
        return parse_hours(table, tz)
    except HoursError as e:
        raise ConfigError(str(e)) from None


def _online(table: Any, server: ServerConfig) -> OnlineConfig:
    """[online], checked: enabled needs an http(s) base_url and the server API key (the links'
    signing key is derived from it)."""
    if not isinstance(table, dict):
        raise ConfigError("online must be a table")
    unknown = sorted(set(table) - ONLINE_KEYS)
    if unknown:
        raise ConfigError(f"online: unknown key {unknown[0]!r}; keys are {sorted(ONLINE_KEYS)}")
    enabled = _get(table, "enabled", bool, False)
    base_url = _get(table, "base_url", str, "").strip().rstrip("/")
    link_days = _get(table, "link_days", int, 30)
    if not 1 <= link_days <= LINK_DAYS_MAX:
        raise ConfigError(f"online.link_days must be 1..{LINK_DAYS_MAX}, got {link_days}")
    if base_url or enabled:
        parts = urlsplit(base_url)
        bad = parts.scheme not in ("http", "https") or not parts.hostname
        if bad or parts.query or parts.fragment:
            raise ConfigError(
                f"online.base_url must be an http:// or https:// URL, got {base_url!r}"
            )
    if enabled and not server.api_key:
        raise ConfigError("online.enabled needs server.api_key (it signs the rating links)")
    return OnlineConfig(enabled=enabled, base_url=base_url, link_days=link_days)


def _check_wire_bounds(cfg: GatewayConfig) -> None:
    """Everything hall.toml puts into a cfg or req message must pass the wire's bounds
    (docs/protocol.md, Bounds), or the gateway would fail at its first publish instead of here."""
    t = 946684800  # any valid time: the bounds of the other fields are what is checked
    try:
        for d in cfg.devices.values():
            levels = cfg.evaluator_levels if d.kind == "evaluator" else wire.BALLOT_SLOTS
            wire.validate(
                wire_gw.config(
                    d.device, 1, d.window, levels, cfg.request_ttl_s, hb=cfg.heartbeat_s, t=t
                )
            )
        for number, name in cfg.staff_names.items():
            staff = {"id": number, "name": name}
            wire.validate(wire_gw.rating_request("d", "rq", "tk", "w", t, 1, staff=staff))
    except wire.WireError as e:
        raise ConfigError(f"hall.toml: {e}") from None


# Example values (hall.example.toml says change-me); compared in lower case.
PLACEHOLDERS = frozenset({"", "a", "secret", "password", "changeme", "change-me", "changethis"})
PLACEHOLDER_PARTS = ("changeme", "change-me", "change_me", "changethis", "placeholder")


def _placeholder(value: str) -> bool:
    low = value.strip().lower()
    return low in PLACEHOLDERS or any(part in low for part in PLACEHOLDER_PARTS)


def check_production(cfg: GatewayConfig) -> None:
    """With HALLRATE_ENVIRONMENT=production, refuse example credentials left in hall.toml."""
    secrets = {"server.api_key": cfg.server.api_key, "http.queue_token": cfg.queue_token}
    if cfg.broker.password is not None:
        secrets = {"broker.password": cfg.broker.password, **secrets}
    for name, value in secrets.items():
        if name == "http.queue_token" and not value:
            continue  # none configured: not a value copied from the example
        if _placeholder(value):
            raise ConfigError(
                f"{name} is a placeholder (e.g. change-me); production needs the real value"
            )
