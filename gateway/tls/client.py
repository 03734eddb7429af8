"""The gateway's TLS to the broker (paho): hall.toml [broker] url = "mqtts://host:8883" plus

    [broker]
    ca_file = "tls/ca.crt"          # PEM; the CA that signed the broker's certificate
    cert_file = "tls/H1/gateway@H1.crt"   # optional client certificate (PEM) ...
    key_file = "tls/H1/gateway@H1.key"    # ... and its key (PEM, unencrypted): both or neither

Paths are relative to hall.toml. Without ca_file the system's trusted CAs are used. The server's
certificate is always verified, host name included. The files are read when hall.toml is loaded
(a missing one is a config error) and again by paho on every connect. docs/gateway.md, "TLS".
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from gateway.config import ConfigError, GatewayConfig

_KEYS = ("ca_file", "cert_file", "key_file")


@dataclass(frozen=True)
class BrokerTls:
    ca_file: Path | None
    cert_file: Path | None
    key_file: Path | None


def broker_tls(cfg: GatewayConfig) -> BrokerTls | None:
    """The TLS files of an mqtts:// broker (None for plain mqtt://). Raises ConfigError."""
    b = cfg.raw.get("broker", {})
    paths: dict[str, Path | None] = {}
    for key in _KEYS:
        value = b.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"[broker] {key} must be a file path, got {value!r}")
        paths[key] = None if value is None else cfg.base_dir / value
    if not cfg.broker.tls:
        given = [k for k in _KEYS if paths[k] is not None]
        if given:
            raise ConfigError(f"[broker] {given[0]} needs a TLS broker url (mqtts://host:8883)")
        return None
    if (paths["cert_file"] is None) != (paths["key_file"] is None):
        raise ConfigError("[broker] cert_file and key_file go together")
    for key, path in paths.items():
        if path is not None and not path.is_file():
            raise ConfigError(f"[broker] {key} not found: {path}")
    return BrokerTls(paths["ca_file"], paths["cert_file"], paths["key_file"])


def apply(client: mqtt.Client, tls: BrokerTls) -> None:
    """Set paho's TLS: verify the broker against ca_file, present the client certificate."""
    client.tls_set(
        ca_certs=str(tls.ca_file) if tls.ca_file else None,
        certfile=str(tls.cert_file) if tls.cert_file else None,
        keyfile=str(tls.key_file) if tls.key_file else None,
        cert_reqs=ssl.CERT_REQUIRED,
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )
