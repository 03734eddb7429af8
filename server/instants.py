"""Instants as ingest stores them: the hall's local day and hour and SQLite's storage text.

Ingest converts every record's time twice: to the hall's local day and hour (for the
aggregates) and,
on SQLite, to the text SQLAlchemy's DateTime column would store. Done with ``astimezone`` and
``isoformat`` that was a tenth of the ingest time of a batch, so ``LocalTimes`` computes both
once per hour of the record's ISO text and reuses them for every record in the same hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_HOUR_LAST = timedelta(hours=1, microseconds=-1)


def sqlite_instant(value: datetime) -> str:
    """What SQLAlchemy's SQLite DateTime stores for an aware instant: naive UTC
    "YYYY-MM-DD HH:MM:SS.ffffff", i.e. astimezone(UTC), without tzinfo, isoformat(" ")."""
    text = value.astimezone(UTC).isoformat(" ")
    return text[:-6] if value.microsecond else text[:-6] + ".000000"


class LocalTimes:
    """The local day and hour in ``zone`` and the SQLite text of instants, cached per hour.

    The cache is keyed by the text's date and hour and its UTC offset, so it is used only for
    the ISO forms where those are fixed positions ("YYYY-MM-DDTHH:MM:SS+HH:00", optionally with
    six fraction digits) and whole-hour offsets (the minutes and seconds are then the same in
    UTC). An hour is cached only when the zone's offset is the same at its first and last
    microsecond and both fall on the same local day and hour (not so in a zone with a
    half-hour offset such as Asia/Kolkata); otherwise, as for every other form, each
    instant is converted on its own. Both paths give the same answer
    (tests/server/test_instants.py).
    """

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        # key -> (local day, its ISO text, the UTC "YYYY-MM-DD HH" of the hour, local hour)
        # or None
        self._hours: dict[str, tuple[date, str, str, int] | None] = {}

    def convert(self, text: str, instant: datetime) -> tuple[date, str, str, int]:
        """(local day, the day as "YYYY-MM-DD", SQLite text, local hour 0..23) of ``instant``,
        parsed from text."""
        n = len(text)
        if n == 25:
            # 0123456789012345678901234
            # 2026-11-02T17:03:21+08:00
            fast = text[19] in "+-" and text[22:] == ":00"
            fraction = ".000000"
        elif n == 32:
            # 2026-11-02T17:03:21.123456+08:00
            fast = text[19] == "." and text[26] in "+-" and text[29:] == ":00"
            fraction = text[19:26]
        else:
            fast = False
        if fast and text[10] in "T " and text[13] == ":" and text[16] == ":":
            key = text[:13] + text[-6:]
            try:
                hour = self._hours[key]
            except KeyError:
                hour = self._hours[key] = self._hour(instant)
            if hour is not None:
                day, day_text, utc_hour, local_hour = hour
                return day, day_text, utc_hour + text[13:19] + fraction, local_hour
        local = instant.astimezone(self.zone)
        day = local.date()
        return day, day.isoformat(), sqlite_instant(instant), local.hour

    def _hour(self, instant: datetime) -> tuple[date, str, str, int] | None:
        first = instant.replace(minute=0, second=0, microsecond=0)
        last = first + _HOUR_LAST
        a, b = first.astimezone(self.zone), last.astimezone(self.zone)
        if a.utcoffset() != b.utcoffset() or a.date() != b.date() or a.hour != b.hour:
            return None  # a transition, a local midnight or a local hour's start within it
        return a.date(), a.date().isoformat(), sqlite_instant(first)[:13], a.hour
