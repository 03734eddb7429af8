"""A ticket's rating period and late limit (server/online/period.py; docs/online-rating.md
"Late ratings"): around 国庆 2026 with 山东's 5 working days, provisional for years the
calendar data lacks, exact once the State Council notice is loaded as overrides."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from server.calendar import WorkingDays, working_days
from server.calendar_cli import Override, store_overrides
from server.db import make_engine, make_sessionmaker
from server.online.period import followup_last_day, rating_period
from server.online.policy import OnlinePolicy
from server.policy import Policy

SHANDONG = OnlinePolicy(late_rating_working_days=5)  # rating_days 7 natural, then 5 working
CN = WorkingDays()


@pytest.mark.parametrize(
    ("ticket_day", "last", "late_last"),
    [
        # Thu Sep 24: 7 days to Oct 1, then Oct 8, 9, 10 (Sat, 调休), 12, 13.
        (date(2026, 9, 24), date(2026, 10, 1), date(2026, 10, 13)),
        # Wed Sep 30: the period ends on Oct 7, inside the holiday; the late days start Oct 8.
        (date(2026, 9, 30), date(2026, 10, 7), date(2026, 10, 13)),
        # Fri Sep 18: Sep 25; then Sep 28, 29, 30 (中秋 25-27), Oct 8, 9 (国庆 1-7).
        (date(2026, 9, 18), date(2026, 9, 25), date(2026, 10, 9)),
        # An ordinary Monday: Nov 9, then Nov 10, 11, 12, 13, 16.
        (date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)),
    ],
)
def test_late_limit_across_national_day(ticket_day: date, last: date, late_last: date) -> None:
    period = rating_period(ticket_day, SHANDONG, CN)
    assert (period.last_day, period.late_last_day, period.provisional) == (last, late_last, False)


def test_timing_around_national_day() -> None:
    period = rating_period(date(2026, 9, 24), SHANDONG, CN)
    assert period.timing(date(2026, 9, 23)) == "closed"  # before the ticket: a forged date
    assert period.timing(date(2026, 9, 24)) == "on_time"
    assert period.timing(date(2026, 10, 1)) == "on_time"
    assert period.timing(date(2026, 10, 2)) == "late"  # holidays pass while the limit waits
    assert period.timing(date(2026, 10, 13)) == "late"
    assert period.timing(date(2026, 10, 14)) == "closed"


def test_no_late_ratings_by_default() -> None:
    period = rating_period(date(2026, 9, 24), OnlinePolicy(), CN)
    assert period.late_last_day == period.last_day == date(2026, 10, 1)
    assert period.timing(date(2026, 10, 1)) == "on_time"
    assert period.timing(date(2026, 10, 2)) == "closed"
    assert rating_period(date(2026, 12, 30), OnlinePolicy(), CN).provisional is False


def test_provisional_for_a_year_without_data() -> None:
    """No 2027 data in chinese-calendar: Mon-Fri is a guess (元旦 unknown)."""
    period = rating_period(date(2026, 12, 28), SHANDONG, CN)
    # Jan 4 2027; then Jan 5, 6, 7, 8, 11 counted Mon-Fri.
    assert (period.last_day, period.late_last_day) == (date(2027, 1, 4), date(2027, 1, 11))
    assert period.provisional is True
    assert rating_period(date(2026, 12, 1), SHANDONG, CN).provisional is False
    assert rating_period(date(2026, 12, 28), SHANDONG, WorkingDays("weekdays")).provisional is False


NOTICE_2027 = {  # an example notice, not the real one: Jan 5-7 off, Sat Jan 9 worked
    date(2027, 1, 5): False,
    date(2027, 1, 6): False,
    date(2027, 1, 7): False,
    date(2027, 1, 9): True,
}


def test_overrides_make_the_limit_exact() -> None:
    wd = WorkingDays(overrides=NOTICE_2027)
    period = rating_period(date(2026, 12, 28), SHANDONG, wd)
    # Jan 4; then Jan 8, 9 (Sat, worked), 11, 12, 13.
    assert (period.late_last_day, period.provisional) == (date(2027, 1, 13), False)
    assert period.timing(date(2027, 1, 13)) == "late"
    assert period.timing(date(2027, 1, 14)) == "closed"


def test_overrides_loaded_from_the_database(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    with make_sessionmaker(engine)() as s:
        assert rating_period(date(2026, 12, 28), SHANDONG, _days(s)).provisional is True
        overrides = [Override(d, w, "test") for d, w in NOTICE_2027.items()]
        store_overrides(s, overrides, "notice", replace_year=False)
        period = rating_period(date(2026, 12, 28), SHANDONG, _days(s))
        assert (period.late_last_day, period.provisional) == (date(2027, 1, 13), False)
    engine.dispose()


def _days(session: Session) -> WorkingDays:
    return working_days(session, Policy.default())


def test_followup_limit() -> None:
    assert followup_last_day(date(2026, 9, 30), OnlinePolicy()) == date(2026, 10, 7)
    assert followup_last_day(date(2026, 9, 30), OnlinePolicy(followup_days=0)) is None
