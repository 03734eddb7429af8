"""Ballot slot logic: exactly-once counting, quick succession, glitches, jams, tickets."""

from ballot_box import BeamSlot, TicketMemory, clean_ticket


def _pass(slot, t0, ms):
    return slot.edge(1, t0) + slot.edge(0, t0 + ms)


def test_each_interruption_counts_once():
    s = BeamSlot(0, min_ms=3, jam_ms=2000)
    assert _pass(s, 0, 30) == ("drop",)
    assert s.edge(0, 40) == ()  # no edge: nothing
    assert s.count == 1


def test_two_tickets_in_quick_succession_count_twice():
    s = BeamSlot(0)
    assert _pass(s, 0, 20) + _pass(s, 25, 20) == ("drop", "drop")
    assert s.count == 2


def test_twenty_in_two_seconds():
    s = BeamSlot(1)
    out = ()
    for i in range(20):
        out += _pass(s, i * 100, 30)
    assert out.count("drop") == 20 and s.count == 20


def test_glitch_shorter_than_min_is_ignored():
    s = BeamSlot(0, min_ms=3)
    assert _pass(s, 0, 1) == ()
    assert s.count == 0


def test_jam_reports_once_stops_counting_and_clears():
    s = BeamSlot(2, jam_ms=1000)
    s.edge(1, 0)
    assert s.tick(999) is None
    assert s.tick(1000) == "jam"
    assert s.tick(1500) is None and s.jammed
    assert s.edge(0, 5000) == ("jam_cleared",)
    assert s.count == 0 and not s.jammed
    assert _pass(s, 6000, 30) == ("drop",)


def test_jam_seen_only_at_clear():
    s = BeamSlot(0, jam_ms=1000)
    assert _pass(s, 0, 1500) == ("jam", "jam_cleared")
    assert s.count == 0


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
