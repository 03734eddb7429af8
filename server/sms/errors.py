"""Errors the provider adapters raise from queries (send() reports its errors in SendResult)."""

from __future__ import annotations


class ProviderError(Exception):
    """A delivery or reply query failed. `retryable`: throttled, 5xx, timeout, network."""

    def __init__(self, message: str, retryable: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code
