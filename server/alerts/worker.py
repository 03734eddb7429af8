"""The deliverer's loop: a thread inside `hallrate server` (woken right after a commit that
recorded alerts, otherwise every ``HALLRATE_ALERTS_POLL_SECONDS``), and
`hallrate alerts deliver --every SECONDS`. Settings: docs/cases.md "Alerts"."""

from __future__ import annotations

import logging
import threading
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.orm import Session, sessionmaker

from server.alerts import wake
from server.alerts.delivery import Deliverer
from server.policy import Policy
from server.sms.provider import SmsProvider

log = logging.getLogger("hallrate.alerts")

# The local SMS platform's alert template (simulator/sms_platform/state.py).
LOCAL_ALERT_TEMPLATE = "SMS_HALLRATE_ALERT"


class AlertSettings(BaseSettings):
    """HALLRATE_ALERTS_* (docs/cases.md "Alerts", Settings)."""

    model_config = SettingsConfigDict(env_prefix="HALLRATE_ALERTS_", extra="ignore")

    # The deliverer thread inside `hallrate server`; off: run `hallrate alerts deliver --every`.
    deliver: bool = True
    poll_seconds: float = Field(default=1.0, gt=0, le=3600)
    # The approved alert template (TemplateCode / TemplateId) the SMS provider of
    # HALLRATE_SMS_* sends alerts with; "" with the local platform: SMS_HALLRATE_ALERT.
    sms_template_code: str = ""
    # Tencent only: the names of the template's {1}, {2}, … in order.
    sms_template_params: str = "title,case,due"


def load_alert_settings() -> AlertSettings:
    """HALLRATE_ALERTS_* from the environment; ValueError naming the bad variable."""
    from server.settings_cli import describe

    try:
        return AlertSettings()
    except ValidationError as exc:
        raise ValueError(describe(exc).replace("HALLRATE_", "HALLRATE_ALERTS_")) from None


def sms_provider(alert_settings: AlertSettings | None = None) -> SmsProvider:
    """The SMS channel's provider (HALLRATE_SMS_*, server/sms/providers.py) with the alert
    template. ValueError when it cannot be built (missing credentials or template)."""
    from server.sms.providers import SmsSettings, make_provider

    conf = alert_settings or AlertSettings()
    sms = SmsSettings()
    template = conf.sms_template_code
    if not template:
        if sms.sms_provider != "local":
            raise ValueError(
                f"HALLRATE_SMS_PROVIDER={sms.sms_provider} needs HALLRATE_ALERTS_SMS_TEMPLATE_CODE "
                "(the approved alert template)"
            )
        template = LOCAL_ALERT_TEMPLATE
    update: dict[str, Any] = {
        "sms_template_code": template,
        "sms_template_params": conf.sms_template_params,
    }
    return make_provider(sms.model_copy(update=update))


class BackgroundDeliverer:
    """Runs ``deliverer.run_once`` in a daemon thread until ``stop``."""

    def __init__(self, deliverer: Deliverer, every: float) -> None:
        self.deliverer = deliverer
        self.every = every
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.idle = threading.Event()  # set after each pass, while it waits for the next
        self.passes = 0
        self._thread = threading.Thread(target=self._run, name="alert-deliverer", daemon=True)

    def start(self) -> None:
        wake.register(self._wake)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        wake.unregister(self._wake)
        self._thread.join(timeout)
        self.deliverer.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                report = self.deliverer.run_once()
                if report.sent or report.retry or report.failed:
                    log.info("alerts: %s", report)
            except Exception:  # the database is away: try again at the next tick
                log.exception("alerts: delivery pass failed")
            self.passes += 1
            self.idle.set()
            self._wake.wait(self.every)
            self.idle.clear()


def start_in_process(
    sessions: sessionmaker[Session], policy: Policy, settings: AlertSettings | None = None
) -> BackgroundDeliverer | None:
    """The server's deliverer thread, started; None when HALLRATE_ALERTS_DELIVER is off."""
    conf = settings or load_alert_settings()
    if not conf.deliver:
        return None
    background = BackgroundDeliverer(
        Deliverer(sessions, policy, sms=lambda: sms_provider(conf)), conf.poll_seconds
    )
    background.start()
    return background
