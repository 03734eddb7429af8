"""Server settings, read from HALLRATE_* environment variables and validated at start-up."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.limits import Limits
from server.personal import PhoneCipher
from server.production import GATEWAY_KEY_BITS, is_placeholder, password_problem, secret_problem

SECRET_FILE_NAME = "secret_key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HALLRATE_", extra="ignore")

    environment: Literal["dev", "production"] = "dev"
    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8470
    tz: str = "Asia/Shanghai"
    secret_key: SecretStr = SecretStr("")
    token_ttl_seconds: int = 8 * 3600
    # "username:password" — a city admin created at start-up if missing.
    bootstrap_admin: str = ""
    # "gateway-id:api-key:hall-code" — the hall and the gateway key, created if missing.
    bootstrap_gateway: str = ""
    # "A01,A02,…" — windows created at start-up, if missing, in the bootstrap gateway's hall.
    bootstrap_windows: str = ""
    policy_file: str | None = None
    # Login throttling (docs/security.md): failures per username / per client address within
    # the window; past either limit the next attempt is a 429 with Retry-After. 0 turns one off.
    login_max_failures_per_user: int = 5
    login_max_failures_per_address: int = 50
    login_failure_window_seconds: int = 900
    # Password hashing threads (0: one per CPU core) and how many logins may wait for one
    # before the next is refused with 503.
    password_hash_workers: int = 0
    password_hash_queue: int = 32
    # The shared secret an SMS platform's reply push must present (docs/sms.md, "Replies"):
    # ?token=... in the callback URL, or Authorization: Bearer. Unset: the push route is off.
    sms_callback_token: SecretStr = SecretStr("")
    # /docs and /openapi.json: on by default in dev, off by default in production.
    api_docs: bool | None = None
    # Request limits (docs/api.md, Limits): body bytes per request (ingest / every other
    # route), JSON nesting, and expensive requests at once per class (0: no limit) with the
    # seconds one may wait for a slot before a 503.
    max_body_bytes: int = 16 * 1024
    max_ingest_body_bytes: int = 8 * 1024 * 1024
    max_json_depth: int = 32
    max_concurrent_ingest: int = 4
    max_concurrent_scores: int = 4
    busy_wait_seconds: float = 10.0
    # Citizens' phone numbers (docs/security.md): the key they are encrypted and hashed with
    # (unset: derived from the token secret), and how many days after the ticket's day
    # `hallrate db purge-personal-data` keeps them.
    phone_key: SecretStr = SecretStr("")
    phone_retention_days: int = Field(default=180, ge=1, le=36500)
    # GET /metrics (Prometheus): the bearer token a scraper sends; unset, /metrics is 404.
    metrics_token: SecretStr = SecretStr("")
    # The public base of rating links and window QR codes (docs/online-rating.md "The link"):
    # what a citizen's phone reaches, e.g. https://pj.example.gov.cn; no trailing slash needed.
    public_url: str = "http://127.0.0.1:8470"

    @field_validator("bootstrap_admin")
    @classmethod
    def _admin_shape(cls, value: str) -> str:
        if value and (":" not in value or not value.split(":", 1)[0] or not value.split(":", 1)[1]):
            raise ValueError("bootstrap_admin must be 'username:password'")
        return value

    @field_validator("bootstrap_gateway")
    @classmethod
    def _gateway_shape(cls, value: str) -> str:
        if value and (len(value.split(":")) != 3 or not all(value.split(":"))):
            raise ValueError("bootstrap_gateway must be 'gateway-id:api-key:hall-code'")
        return value

    @field_validator("bootstrap_windows")
    @classmethod
    def _windows_shape(cls, value: str) -> str:
        from server.codes import WINDOW

        for code in value.split(",") if value.strip() else []:
            if problem := WINDOW.problem(code.strip()):
                raise ValueError(f"bootstrap_windows: {problem}")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "public_url must be an http:// or https:// URL, e.g. https://pj.example.gov.cn"
            )
        if parts.query or parts.fragment or any(c.isspace() for c in value):
            raise ValueError("public_url may not have a query, a fragment or spaces")
        return value

    @model_validator(mode="after")
    def _windows_need_a_hall(self) -> Settings:
        if self.bootstrap_windows.strip() and not self.bootstrap_gateway:
            raise ValueError(
                "HALLRATE_BOOTSTRAP_WINDOWS needs HALLRATE_BOOTSTRAP_GATEWAY (it names the hall)"
            )
        return self

    @property
    def window_codes(self) -> list[str]:
        """The codes of HALLRATE_BOOTSTRAP_WINDOWS, in order, without repeats."""
        codes = [c.strip() for c in self.bootstrap_windows.split(",") if c.strip()]
        return list(dict.fromkeys(codes))

    @property
    def limits(self) -> Limits:
        return Limits(
            body_bytes=self.max_body_bytes,
            ingest_body_bytes=self.max_ingest_body_bytes,
            json_depth=self.max_json_depth,
            concurrent_ingest=self.max_concurrent_ingest,
            concurrent_scores=self.max_concurrent_scores,
            busy_wait_s=self.busy_wait_seconds,
        )

    @property
    def docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.environment == "dev"

    @property
    def hash_workers(self) -> int:
        return self.password_hash_workers or os.cpu_count() or 1

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hallrate.db').resolve()}"

    @cached_property
    def token_secret(self) -> bytes:
        """The key that signs admin tokens.

        A placeholder is refused outside dev mode; in dev mode a random key is generated once
        and kept in the data directory, so tokens survive a restart.
        """
        value = self.secret_key.get_secret_value()
        if self.environment != "dev":
            if problem := secret_problem(value):
                raise ValueError(f"HALLRATE_SECRET_KEY {problem}; production needs a random value")
            return value.encode()
        if not is_placeholder(value):
            return value.encode()
        path = self.data_dir / SECRET_FILE_NAME
        if path.exists():
            return path.read_bytes().strip()
        from server.db import private_dir

        private_dir(self.data_dir)
        key = secrets.token_urlsafe(32).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        return key

    @cached_property
    def phone_cipher(self) -> PhoneCipher:
        """Encrypts and hashes citizens' phone numbers (server/personal.py).

        HALLRATE_PHONE_KEY if set (production: at least 32 random bytes), else the token secret:
        then changing HALLRATE_SECRET_KEY makes the stored numbers unreadable.
        """
        value = self.phone_key.get_secret_value()
        if not value:
            return PhoneCipher(b"phone:" + self.token_secret)
        if len(value) < 16:
            raise ValueError("HALLRATE_PHONE_KEY needs at least 16 characters")
        if self.environment != "dev" and (problem := secret_problem(value)):
            raise ValueError(f"HALLRATE_PHONE_KEY {problem}; production needs a random value")
        return PhoneCipher(value.encode())

    def check(self) -> None:
        """Fail at start-up, not at the first login, if the settings cannot work.

        In production, also refuse weak bootstrap credentials (one-line reasons).
        """
        _ = self.token_secret
        _ = self.phone_cipher
        if self.environment == "dev":
            return
        if self.bootstrap_admin:
            username, password = self.bootstrap_admin.split(":", 1)
            if problem := password_problem(username, password):
                raise ValueError(f"HALLRATE_BOOTSTRAP_ADMIN password {problem}")
        token = self.sms_callback_token.get_secret_value()
        if token and (problem := secret_problem(token, GATEWAY_KEY_BITS)):
            raise ValueError(f"HALLRATE_SMS_CALLBACK_TOKEN {problem}")
        if self.bootstrap_gateway:
            key = self.bootstrap_gateway.split(":")[1]
            if problem := secret_problem(key, GATEWAY_KEY_BITS):
                raise ValueError(f"HALLRATE_BOOTSTRAP_GATEWAY API key {problem}")
