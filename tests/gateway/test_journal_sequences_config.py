"""Journal, per-boot sequences and gap timers, config loading, status table."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware import wire, wire_gw
from gateway.cli import main as cli_main
from gateway.cli import render_status
from gateway.config import ConfigError, from_dict, load
from gateway.journal import Journal
from gateway.sequences import MAX_SELECTIVE, BootSeqs, GapState, due_resends

REPO = Path(__file__).resolve().parents[2]


# ---- journal ---------------------------------------------------------------------------------


def test_device_events_dedup_on_device_boot_seq(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    m = wire.vote("EV-A03", "b1", 1, "satisfied", 100, 1)
    with j.transaction():
        assert j.insert_device_event(wire_gw.event_key(m), m, 1.0)
        assert not j.insert_device_event(wire_gw.event_key(m), m, 2.0)
        other_boot = wire.vote("EV-A03", "b2", 1, "satisfied", 100, 1)
        assert j.insert_device_event(wire_gw.event_key(other_boot), other_boot, 2.0)
    assert j.counts()["device_events"] == 2
    assert j.seqs_of_boot("EV-A03", "b1") == [(1, 1)]
    j.close()


def test_queue_events_dedup_on_id(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    e = wire_gw.queue_event("q1", "login", 1, window="A03", staff="1001")
    with j.transaction():
        assert j.insert_queue_event(e, "http", 1.0)
        assert not j.insert_queue_event(e, "mqtt", 1.0)
    assert list(j.queue_events_since(0)) == [e]
    j.close()


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    e = wire_gw.queue_event("q1", "login", 1)
    with pytest.raises(RuntimeError), j.transaction():
        j.insert_queue_event(e, "http", 1.0)
        raise RuntimeError("crash between insert and commit")
    assert j.counts()["queue_events"] == 0
    j.close()


def test_record_rev_bumps_only_when_attribution_changes(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    body = {"key": "k", "window": None}
    with j.transaction():
        assert j.put_record("k", body) == 0
        assert j.put_record("k", dict(body)) is None
        assert j.put_record("k", {"key": "k", "window": "A03"}) == 1
    batch = j.pending("records", 10)
    assert [(r.key, r.rev, r.body["window"]) for r in batch] == [("k", 1, "A03")]
    # The rev moves on while a batch is in flight: the old send must not settle the new rev.
    with j.transaction():
        j.put_record("k", {"key": "k", "window": "A01"})
    j.mark_forwarded("records", batch, {})
    assert [r.rev for r in j.pending("records", 10)] == [2]
    j.mark_forwarded("records", j.pending("records", 10), {"k": "no such window"})
    assert j.pending("records", 10) == []
    assert j.counts()["records_rejected"] == 1
    j.close()


def test_journal_is_wal_with_full_sync(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    assert j.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert j.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    j.close()


# ---- sequences -------------------------------------------------------------------------------


def test_boot_seqs_ack_and_gaps() -> None:
    b = BootSeqs()
    assert b.ack() == (0, [])
    for s in (1, 2, 5, 7):
        assert b.add(s)
    assert not b.add(2)
    assert b.ack() == (2, [5, 7])
    assert b.gaps() == [(3, 4), (6, 6)]
    b.add(3)
    b.add(4)
    assert b.ack() == (5, [7]) and b.gaps() == [(6, 6)]
    b.add(6)
    assert b.ack() == (7, []) and b.gaps() == []


def test_selective_ack_is_bounded() -> None:
    b = BootSeqs.of([(2, 999)])
    n, x = b.ack()
    assert n == 0 and len(x) == MAX_SELECTIVE and x[-1] == 999
    assert len(wire.encode(wire_gw.ack("EV-A03", "3f2a9c01", n, x))) < wire.MAX_PAYLOAD


def test_gap_timers_grace_then_resend_then_give_up() -> None:
    g = {(3, 4): GapState(3, 4, detected_at=100.0)}
    assert due_resends(g, 100.4, 0.5, 1.0, 2) == ([], [])
    ask, _ = due_resends(g, 100.6, 0.5, 1.0, 2)
    assert [x.gap.attempts for x in ask] == [1]
    assert due_resends(g, 101.0, 0.5, 1.0, 2) == ([], [])
    ask, _ = due_resends(g, 101.7, 0.5, 1.0, 2)
    assert [x.gap.attempts for x in ask] == [2]
    ask, give_up = due_resends(g, 102.8, 0.5, 1.0, 2)
    assert ask == [] and [(x.first, x.last) for x in give_up] == [(3, 4)]
    assert due_resends(g, 200.0, 0.5, 1.0, 2) == ([], [])  # reported once


# ---- config ----------------------------------------------------------------------------------


def test_example_config_loads() -> None:
    cfg = load(REPO / "gateway" / "hall.example.toml", env={})
    assert cfg.hall == "H1"
    assert cfg.broker.username == "gateway@H1" and cfg.broker.port == 1883
    assert cfg.devices["EV-A03"].window == "A03" and cfg.devices["BB-01"].window is None
    assert cfg.policy.rating_window_s == 120 and not cfg.policy.count_no_ticket
    assert cfg.serial[0].port == "/dev/ttyUSB0" and cfg.http_port == 8471
    assert cfg.devices_at("A03") == ["EV-A03"]
    assert cfg.journal_path == REPO / "gateway" / "var" / "gateway-H1.db"


def test_env_overrides_broker_and_server() -> None:
    cfg = load(
        REPO / "gateway" / "hall.example.toml",
        env={
            "HALLRATE_MQTT_URL": "mqtt://u:p%40ss@10.0.0.2:1884",
            "HALLRATE_SERVER_URL": "http://srv:9000/",
        },
    )
    assert (cfg.broker.host, cfg.broker.port, cfg.broker.username, cfg.broker.password) == (
        "10.0.0.2",
        1884,
        "u",
        "p@ss",
    )
    assert cfg.server.url == "http://srv:9000"


@pytest.mark.parametrize(
    ("data", "msg"),
    [
        ({}, "hall"),
        ({"hall": "H 1"}, "hall"),
        ({"hall": "H1", "broker": {"url": "http://x"}}, "mqtt://"),
        ({"hall": "H1", "devices": {"EV-1": {"kind": "toaster"}}}, "kind"),
        ({"hall": "H1", "devices": {"EV-1": {"kind": "evaluator"}}}, "needs a window"),
        ({"hall": "H1", "windows": ["A01"], "devices": {"EV-1": {"window": "Z9"}}}, "not in"),
        ({"hall": "H1", "rating": {"levels": ["great"]}}, "unknown level"),
        ({"hall": "H1", "attribution": {"rating_window_s": 0}}, "rating_window_s"),
        ({"hall": "H1", "attribution": {"rating_window_s": "2m"}}, "rating_window_s"),
        (
            {"hall": "H1", "devices": {"BB-1": {"kind": "ballot_box", "group": 3}}},
            r"^devices\.BB-1\.group must be a string, got 3$",
        ),
        (
            {"hall": "H1", "devices": {"BB-1": {"kind": "ballot_box", "group": "bank a"}}},
            r"^devices\.BB-1\.group must be a code \(letters, digits, -_\.\)$",
        ),
        (
            {"hall": "H1", "hours": {"open": ["08:30-12:00"], "day": "all"}},
            "^hours: unknown key day$",
        ),
        # What hall.toml puts into cfg/req messages must pass the wire bounds at load time.
        ({"hall": "H1", "devices": {"EV-1": {"kind": "evaluator", "window": "A:03"}}}, "field w"),
        ({"hall": "H1", "devices": {"EV-1": {"kind": "evaluator", "window": "W" * 17}}}, "field w"),
        ({"hall": "H1", "staff": {"10 01": "张三"}}, "field staff"),
        ({"hall": "H1", "staff": {"1001": "张" * 65}}, "field staff"),
    ],
)
def test_bad_configs_are_refused(data: dict[str, object], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        from_dict(data, env={})


def test_missing_config_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--config", str(tmp_path / "nope.toml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_status_reads_the_journal_when_gateway_is_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.gateway.conftest import gateway_config_dict, write_toml

    data = gateway_config_dict(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    path = write_toml(data, tmp_path / "hall.toml")
    j = Journal(tmp_path / "journal.db")
    with j.transaction():
        j.update_device(
            "EV-A03",
            state="online",
            kind="evaluator",
            fw="1.2.0",
            rssi=-61,
            outbox=3,
            last_seq=17,
            last_seen=1.0,
            boot="b1",
        )
        j.put_record("EV-A03:b1:17", {"key": "EV-A03:b1:17"})
        j.record_lost("EV-A03", "b1", 5, 6, "unanswered")
    j.close()
    assert cli_main(["status", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "EV-A03" in out and "A03" in out and "1.2.0" in out and "-61" in out
    assert "backlog: 1 records" in out and "seq 5..6 (unanswered)" in out
    assert cli_main(["status", "--config", str(path), "--json"]) == 0
    assert '"records_pending": 1' in capsys.readouterr().out


def test_render_status_table_columns() -> None:
    text = render_status(
        {
            "hall": "H1",
            "counts": {},
            "devices": [{"device": "BB-01", "kind": "ballot_box", "online": False}],
        }
    )
    assert text.splitlines()[2].split() == [
        "device",
        "kind",
        "window",
        "online",
        "fw",
        "slot",
        "reset",
        "boots",
        "heap",
        "lfb",
        "rssi",
        "outbox",
        "oldest",
        "self_test",
        "alarms",
        "last_seq",
        "last_seen",
    ]
    assert "BB-01" in text and "ballot_box" in text


def test_fast_ack_payload_is_exactly_what_wire_encode_gives(tmp_path: Path) -> None:
    from gateway.pipeline import Pipeline
    from tests.gateway.conftest import gateway_config

    sent: list[tuple[str, bytes, int, bool]] = []

    class Capture:
        def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
            sent.append((topic, payload, qos, retain))

    cfg = gateway_config(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    p = Pipeline(cfg, Journal(cfg.journal_path), Capture())
    p.publisher.ack("EV-A03", "3f2a9c01", 17, [19, 20])
    p.publisher.ack("EV-A03", "3f2a9c01", 0, [])
    assert sent == [
        (
            wire.device_topic("H1", "EV-A03", "ack"),
            wire.encode(wire_gw.ack("EV-A03", "3f2a9c01", 17, [19, 20])),
            1,
            False,
        ),
        (
            wire.device_topic("H1", "EV-A03", "ack"),
            wire.encode(wire_gw.ack("EV-A03", "3f2a9c01", 0)),
            1,
            False,
        ),
    ]
    p.close()
    p.journal.close()
