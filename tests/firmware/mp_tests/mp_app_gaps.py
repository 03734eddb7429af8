"""The gone ranges of a resend request, computed without enumerating the range."""

from resend import gaps


def test_gaps():
    assert gaps([], 1, 5) == [(1, 5)]
    assert gaps([3], 1, 5) == [(1, 2), (4, 5)]
    assert gaps([1, 2, 3], 1, 3) == []
    assert gaps([2, 5], 1, 6) == [(1, 1), (3, 4), (6, 6)]
    assert gaps([], 1, 2147483647) == [(1, 2147483647)]
    assert gaps([1], 1, 0) == []
