"""LocalTimes' hour cache gives exactly what converting each instant on its own gives (the local
day, its text, SQLite's text and the local hour)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from server.instants import LocalTimes, sqlite_instant

# Shanghai (the default), zones with DST and transitions at local midnight (Santiago, Havana),
# half- and quarter-hour offsets (Kolkata, Kathmandu, Lord Howe's 30-minute DST).
ZONES = [
    "Asia/Shanghai",
    "UTC",
    "America/New_York",
    "America/Santiago",
    "America/Havana",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
]


def _exact(instant: datetime, zone: ZoneInfo) -> tuple[date, str, str, int]:
    local = instant.astimezone(zone)
    return local.date(), local.date().isoformat(), sqlite_instant(instant), local.hour


def _texts(instant: datetime) -> list[str]:
    """The ISO forms a sender may use for the same instant."""
    forms = [instant.isoformat(), instant.isoformat(" ")]
    if instant.microsecond:
        forms += [instant.isoformat(timespec="milliseconds"), instant.isoformat(timespec="seconds")]
    return forms


@given(
    st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)),
    st.sampled_from([0, 60, 480, -300, 330, 345, 570, -210, 840]),
    st.sampled_from(ZONES),
    st.integers(min_value=0, max_value=5),
)
def test_cached_conversion_equals_the_exact_one(
    local: datetime, offset_minutes: int, zone_name: str, nearby: int
) -> None:
    zone = ZoneInfo(zone_name)
    times = LocalTimes(zone)
    base = local.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    # Several instants of the same and neighbouring hours, so that cached hours are reused.
    for k in range(nearby + 1):
        instant = base + timedelta(minutes=17 * k, microseconds=k)
        for text in _texts(instant):
            parsed = datetime.fromisoformat(text)
            assert times.convert(text, parsed) == _exact(parsed, zone), text


def test_hours_with_a_local_midnight_or_a_transition_inside_are_converted_per_instant() -> None:
    # Kolkata's local midnight falls at 18:30 UTC, inside the hour 18:00-19:00 UTC: caching
    # that hour by its first instant would put 18:50 UTC on the wrong local day.
    kolkata = LocalTimes(ZoneInfo("Asia/Kolkata"))
    early = datetime(2026, 11, 2, 18, 10, tzinfo=UTC)
    late = datetime(2026, 11, 2, 18, 50, tzinfo=UTC)
    assert kolkata.convert(early.isoformat(), early)[0] == date(2026, 11, 2)
    assert kolkata.convert(late.isoformat(), late)[0] == date(2026, 11, 3)
    assert kolkata._hours == {"2026-11-02T18+00:00": None}
    # Every other hour of Kolkata holds a local hour's start (+05:30): 04:10 UTC is 09:40
    # local, 04:40 UTC is 10:10.
    kolkata = LocalTimes(ZoneInfo("Asia/Kolkata"))
    early, late = early.replace(hour=4), late.replace(hour=4, minute=40)
    assert kolkata.convert(early.isoformat(), early)[3] == 9
    assert kolkata.convert(late.isoformat(), late)[3] == 10
    # Lord Howe Island's DST began at 15:30 UTC on 2026-10-03 (+10:30 became +11:00).
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    times = LocalTimes(lord_howe)
    for minute in range(0, 60, 5):
        instant = datetime(2026, 10, 3, 15, minute, tzinfo=UTC)
        assert times.convert(instant.isoformat(), instant) == _exact(instant, lord_howe)
    assert times._hours == {"2026-10-03T15+00:00": None}


def test_the_gateway_form_is_converted_from_the_cache() -> None:
    times = LocalTimes(ZoneInfo("Asia/Shanghai"))
    first = "2026-11-02T17:03:21+08:00"
    second = "2026-11-02T17:59:59.250000+08:00"
    assert times.convert(first, datetime.fromisoformat(first)) == (
        date(2026, 11, 2),
        "2026-11-02",
        "2026-11-02 09:03:21.000000",
        17,
    )
    assert times.convert(second, datetime.fromisoformat(second))[2] == "2026-11-02 09:59:59.250000"
    assert len(times._hours) == 1  # one hour, one cached conversion
