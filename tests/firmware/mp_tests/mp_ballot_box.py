"""Ballot tickets: the reader memory and line cleaning (counting: mp_beam_traces.py)."""

from ballot_box import TicketMemory, clean_ticket


def test_ticket_memory_window_and_consumption():
    m = TicketMemory(window_ms=3000)
    m.seen("A012", 0)
    assert m.take(2000) == "A012"
    assert m.take(2100) is None  # consumed
    m.seen("A013", 0)
    assert m.take(3001) is None  # too old for this drop


def test_clean_ticket():
    assert clean_ticket(b"A012\r\n") == "A012"
    assert clean_ticket(" B-07 ;") == "B-07"
    assert clean_ticket(b"\r\n") is None
    assert clean_ticket(b"\xff\xfe") is None
