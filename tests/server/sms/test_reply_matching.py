"""Matching a reply to the text it answers: latest open text first, duplicates, late (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.policy import Policy
from server.sms.matching import Match, SentText, match_reply, window_closes

CN = ZoneInfo("Asia/Shanghai")
MON = datetime(2026, 11, 23, 17, 30, tzinfo=CN)  # a Monday
P = Policy.default()


def at(days: int, hour: int, minute: int = 0) -> datetime:
    return MON.replace(hour=hour, minute=minute) + timedelta(days=days)


def test_next_working_day_window_closes_at_the_end_of_the_next_working_day() -> None:
    assert window_closes(MON, P) == datetime(2026, 11, 25, 0, 0, tzinfo=CN)  # end of Tuesday
    friday = datetime(2026, 11, 27, 17, 30, tzinfo=CN)
    assert window_closes(friday, P) == datetime(2026, 12, 1, 0, 0, tzinfo=CN)  # end of Monday
    # 2026-09-30 (Wed), before the National Day holiday (1-7 October): open until the end of
    # Thursday 8 October, the first working day after it.
    before_holiday = datetime(2026, 9, 30, 17, 0, tzinfo=CN)
    assert window_closes(before_holiday, P) == datetime(2026, 10, 9, 0, 0, tzinfo=CN)


def test_hours_window() -> None:
    assert window_closes(MON, Policy(sms_reply_window="24h")) == MON + timedelta(hours=24)


def test_a_rating_goes_to_the_latest_open_text() -> None:
    texts = [SentText(1, MON, False), SentText(2, at(1, 17, 30), False)]
    assert match_reply("level", at(1, 18), texts, P) == Match("rated", 2)
    # Before the second text was sent, the first is the latest.
    assert match_reply("level", at(1, 9), texts, P) == Match("rated", 1)


def test_an_answered_text_passes_the_next_rating_to_the_older_open_text() -> None:
    texts = [SentText(1, MON, False), SentText(2, at(1, 17, 30), True)]
    assert match_reply("level", at(1, 18), texts, P) == Match("rated", 1)


def test_when_every_open_text_is_answered_the_reply_is_a_duplicate() -> None:
    texts = [SentText(1, MON, True), SentText(2, at(1, 17, 30), True)]
    assert match_reply("level", at(1, 18), texts, P) == Match("duplicate", 2)


def test_inside_the_window_counts_after_it_is_late() -> None:
    texts = [SentText(1, MON, False)]
    assert match_reply("level", at(1, 23, 59), texts, P) == Match("rated", 1)
    assert match_reply("level", at(2, 0, 0), texts, P) == Match("late", 1)
    assert match_reply("level", at(29, 9), texts, P) == Match("late", 1)
    assert match_reply("level", at(31, 9), texts, P) == Match("unmatched", None)


def test_no_text_to_the_phone_is_unmatched() -> None:
    assert match_reply("level", at(0, 18), [], P) == Match("unmatched", None)
    # A reply before any text was sent does not answer it.
    assert match_reply("level", at(0, 9), [SentText(1, MON, False)], P) == Match("unmatched", None)


@pytest.mark.parametrize("kind", ["not_a_rating", "opt_out"])
def test_non_ratings_keep_their_outcome_and_link_the_text(kind: str) -> None:
    texts = [SentText(1, MON, True), SentText(2, at(1, 17, 30), False)]
    assert match_reply(kind, at(1, 18), texts, P) == Match(kind, 2)  # type: ignore[arg-type]
    assert match_reply(kind, at(5, 9), texts, P) == Match(kind, 2)  # type: ignore[arg-type]
    assert match_reply(kind, at(0, 9), [], P) == Match(kind, None)  # type: ignore[arg-type]
