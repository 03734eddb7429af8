"""Who submits a batch of evaluations, and therefore which channels it may send.

Channel authority (docs/security.md): a gateway key submits device channels only; SMS and phone
results come through ``hallrate import``, and replies to the server's own texts through the SMS
pipeline (``sms`` only). ``source`` and the submitting principal are set here by the server, never
taken from a record.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.models import CHANNELS, TIME_SOURCES

DEVICE_CHANNELS = frozenset({"evaluator", "ballot_box"})
IMPORT_CHANNELS = frozenset({"sms", "phone"})
SMS_CHANNELS = frozenset({"sms"})
PHONE_CHANNELS = frozenset({"phone"})
ONLINE_CHANNELS = frozenset({"online"})
DEFAULT_CHANNELS = frozenset({"system_default"})
MAX_SOURCE = 64


@dataclass(frozen=True, slots=True)
class Submitter:
    """The principal behind a batch.

    ``kind`` is ``gateway`` (a gateway API key), ``import`` (``hallrate import``, a command with
    database access), ``sms`` (replies to the server's own rating texts, server/sms/intake.py),
    ``callback`` (a completed phone call-back, server/callbacks/calls.py) or ``service``
    (library callers with database access: tests and tools, which may send any channel).
    ``source`` is stored on every evaluation of the batch.
    """

    kind: str
    source: str
    channels: frozenset[str]
    time_sources: frozenset[str]
    gateway_id: int | None = None
    # The time source of a record that names none; None: device channels "device", others "import".
    default_time_source: str | None = None

    @classmethod
    def gateway(cls, gateway_id: int | None, code: str) -> Submitter:
        return cls(
            "gateway",
            f"gateway:{code}"[:MAX_SOURCE],
            DEVICE_CHANNELS,
            frozenset({"device", "gateway"}),
            gateway_id,
            "device",
        )

    @classmethod
    def importer(cls, source: str) -> Submitter:
        """``hallrate import``: SMS and phone results; ``source`` always starts ``import:``."""
        if not source.startswith("import:"):
            source = f"import:{source}"
        return cls(
            "import", source[:MAX_SOURCE], IMPORT_CHANNELS, frozenset({"import"}), None, "import"
        )

    @classmethod
    def sms_pipeline(cls, provider: str) -> Submitter:
        """Replies to rating texts: ``sms`` evaluations only, ``source`` ``sms:<provider>``, the
        time the platform received the reply (time source ``import``: not a device clock)."""
        return cls(
            "sms",
            f"sms:{provider}"[:MAX_SOURCE],
            SMS_CHANNELS,
            frozenset({"import"}),
            None,
            "import",
        )

    @classmethod
    def callback(cls, username: str) -> Submitter:
        """A completed call-back (电话回访): ``phone`` evaluations only, ``source``
        ``callback:<username>`` (the agent, or the importing admin), timed by the server's clock
        when the attempt was recorded (time source ``server``)."""
        return cls(
            "callback",
            f"callback:{username}"[:MAX_SOURCE],
            PHONE_CHANNELS,
            frozenset({"server"}),
            None,
            "server",
        )

    @classmethod
    def online(cls, source: str = "online:page") -> Submitter:
        """The rating page (二维码评价, server/online/): ``online`` evaluations only, timed by the
        server's clock when the citizen submitted (time source ``server``)."""
        return cls(
            "online", source[:MAX_SOURCE], ONLINE_CHANNELS, frozenset({"server"}), None, "server"
        )

    @classmethod
    def default_rating(cls) -> Submitter:
        """The system default rating job (广东-style, server/online/defaults.py):
        ``system_default`` evaluations only, source ``default_rating``, time source ``server``."""
        return cls(
            "default_rating",
            "default_rating",
            DEFAULT_CHANNELS,
            frozenset({"server"}),
            None,
            "server",
        )

    @classmethod
    def service(cls, source: str) -> Submitter:
        return cls("service", source[:MAX_SOURCE], frozenset(CHANNELS), frozenset(TIME_SOURCES))

    def channel_refusal(self, channel: str) -> str:
        if self.kind == "gateway":
            return (
                f"channel {channel} may not come from a gateway key: gateways submit "
                "evaluator and ballot_box only (sms and phone results come through hallrate import)"
            )
        allowed = ", ".join(sorted(self.channels))
        return f"channel {channel} may not come from {self.kind}: it submits {allowed} only"

    def time_source_refusal(self) -> str:
        allowed = ", ".join(sorted(self.time_sources))
        return f"time_source from {self.kind} must be one of {allowed}"


def as_submitter(submitter: Submitter | str) -> Submitter:
    """A plain string is a ``service`` submitter with that source (database-side callers)."""
    return submitter if isinstance(submitter, Submitter) else Submitter.service(submitter)
