"""The call-back figures as pure arithmetic: hand-counted entries, rates with their formulas,
an empty period, agents' throughput."""

from __future__ import annotations

from datetime import UTC, datetime

from server.callbacks.stats import (
    AgentRow,
    EntryCount,
    agent_figures,
    figures,
    formula_text,
)
from server.policy import Policy


def _rows() -> list[EntryCount]:
    # 3 completed, 1 no-answer still open (overdue), 1 busy closed after max attempts,
    # 1 refusal, 1 invalid number, 1 other (open, not overdue), 1 never called, 1 not needed,
    # a reserve opened, a reserve waiting; hall H2 one completed.
    return [
        EntryCount("H1", "completed", False, "completed", False, 3),
        EntryCount("H1", "open", False, "no_answer", True, 1),
        EntryCount("H1", "closed", False, "busy", False, 1),
        EntryCount("H1", "closed", False, "refused", False, 1),
        EntryCount("H1", "closed", False, "invalid_number", False, 1),
        EntryCount("H1", "open", False, "other", False, 1),
        EntryCount("H1", "open", False, None, True, 1),
        EntryCount("H1", "not_needed", False, None, False, 1),
        EntryCount("H1", "open", True, None, False, 1),
        EntryCount("H1", "reserve", True, None, False, 1),
        EntryCount("H2", "completed", False, "completed", False, 1),
    ]


def test_counts_and_rates_by_hand() -> None:
    policy = Policy()
    total, halls = figures(_rows())
    h1 = halls["H1"].to_dict(policy)
    assert (h1["planned"], h1["reserves"], h1["activated_reserves"], h1["waiting_reserves"]) == (
        10,
        2,
        1,
        1,
    )
    assert (h1["attempted"], h1["completed"], h1["closed"], h1["open"]) == (8, 3, 3, 4)
    assert (h1["not_needed"], h1["overdue"]) == (1, 2)
    assert h1["dispositions"]["completed"] == 3 and h1["dispositions"]["wrong_person"] == 0
    assert h1["aapor"] == {"I": 3, "R": 1, "NC": 2, "O": 1, "NE": 1}
    rates = h1["rates"]
    # I + R + NC + O = 3 + 1 + 2 + 1 = 7 (the invalid number is NE: in no denominator)
    assert rates["response_rate"] == {
        "formula": "I / (I + R + NC + O)",
        "numerator": 3,
        "denominator": 7,
        "rate": {"exact": "3/7", "percent": "42.86"},
    }
    assert rates["refusal_rate"]["rate"] == {"exact": "1/7", "percent": "14.29"}
    assert rates["contact_rate"]["formula"] == "(I + R + O) / (I + R + NC + O)"
    assert (rates["contact_rate"]["numerator"], rates["contact_rate"]["denominator"]) == (5, 7)
    assert total.to_dict(policy)["rates"]["response_rate"]["rate"]["exact"] == "1/2"  # 4/8
    assert total.completed == 4 and halls["H2"].planned == 1


def test_an_empty_period_gives_zeros_and_null_rates() -> None:
    total, halls = figures([])
    out = total.to_dict(Policy())
    assert halls == {}
    assert out["planned"] == out["attempted"] == out["overdue"] == 0
    for name in ("response_rate", "refusal_rate", "contact_rate"):
        assert out["rates"][name]["rate"] is None
        assert out["rates"][name]["denominator"] == 0
        assert out["rates"][name]["formula"] == formula_text(name)


def test_entries_not_attempted_are_in_no_rate() -> None:
    total, _ = figures([EntryCount("H1", "open", False, None, False, 5)])
    assert total.attempted == 0 and total.rate("response_rate").value is None


def test_agents_throughput() -> None:
    t = [datetime(2026, 11, 23, h, tzinfo=UTC) for h in range(1, 6)]
    agents = agent_figures(
        [
            AgentRow("wang", "completed", 2, t[1], t[3]),
            AgentRow("li", "no_answer", 1, t[2], t[2]),
            AgentRow("wang", "no_answer", 3, t[0], t[4]),
        ]
    )
    assert [a.to_dict() for a in agents] == [
        {
            "username": "li",
            "attempts": 1,
            "completed": 0,
            "first_at": t[2].isoformat(),
            "last_at": t[2].isoformat(),
        },
        {
            "username": "wang",
            "attempts": 5,
            "completed": 2,
            "first_at": t[0].isoformat(),
            "last_at": t[4].isoformat(),
        },
    ]
