"""Issue #11 deliverable 4, "an ack is a promise": hypothesis interleaves valid and hostile
messages on every device topic, the MQTT queue topic, the HTTP queue API and a real serial line
(socat pty pair), against real processes (broker, `python -m server.serve`, `python -m gateway`).
After each example every acked vote is on the server exactly once, counted iff the documented
rules say so; at the end the gateway is terminated and killed and must come back clean.

Processes start once per broker; each example uses fresh device boots and fresh tickets, so
examples do not interfere. Deterministic: a fixed seed (HALLRATE_FUZZ_SEED to change it),
HALLRATE_FUZZ_EXAMPLES examples per broker (default 30), no example database, no shrinking
(each example costs seconds of real time). HALLRATE_FUZZ_HOSTILE=0 plays valid messages only
(the harness's own sanity check); HALLRATE_FUZZ_ONLY=kind,kind restricts the hostile kinds
(tests/support/ack_fuzz.py HOSTILE). Oracle and messages: tests/support/ack_fuzz.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.conftest import require_service
from tests.support.ack_fuzz import Example, Step, restart_check, steps
from tests.support.brokers import Amqtt, Broker, Mosquitto, mosquitto_available
from tests.support.fuzz_hall import Hall

pytestmark = [pytest.mark.e2e]

SEED = int(os.environ.get("HALLRATE_FUZZ_SEED", "20261111"))
EXAMPLES = int(os.environ.get("HALLRATE_FUZZ_EXAMPLES", "30"))
HOSTILE = os.environ.get("HALLRATE_FUZZ_HOSTILE", "1") != "0"
ONLY = tuple(k for k in os.environ.get("HALLRATE_FUZZ_ONLY", "").split(",") if k)


@pytest.fixture(
    scope="module",
    params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)],
)
def hall(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hall]:
    tmp = tmp_path_factory.mktemp(f"ackfuzz-{request.param}")
    broker: Broker
    if request.param == "mosquitto":
        require_service("mosquitto", mosquitto_available(), "apt-get install mosquitto")
        broker = Mosquitto(tmp / "mosquitto")
    else:
        broker = Amqtt(tmp / "amqtt")
    broker.start()
    h = Hall(tmp, broker)
    try:
        h.start()
        yield h
    finally:
        h.stop()
        broker.stop()


@pytest.mark.timeout(240)
def test_every_acked_vote_reaches_the_server_exactly_once(hall: Hall) -> None:
    print(f"\nack-promise fuzz: broker={hall.broker.kind} seed={SEED} examples={EXAMPLES}"
          f" hostile={HOSTILE} only={','.join(ONLY) or 'all'}")  # fmt: skip
    started = time.monotonic()
    played: list[list[Step]] = []
    checked: list[int] = []
    broken: list[str] = []

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(plan=steps(hostile=HOSTILE, only=ONLY))
    def one_example(plan: list[Step]) -> None:
        # After the first broken promise the rest are skipped (and hypothesis, which sees no
        # failure, does not replay it): each example costs seconds of real time.
        if broken:
            return
        played.append(plan)
        ex = Example(hall)
        ex.run(plan)
        fails = ex.check()
        checked.append(len(ex.sent))
        if fails:
            broken.append(f"example {len(played)} of seed {SEED}: {plan}\n  " + "\n  ".join(fails))

    one_example()
    fuzz_s = time.monotonic() - started
    # Whatever the examples found, the gateway must come back after SIGTERM and SIGKILL.
    restart_fails = restart_check(hall)
    print(f"ack-promise fuzz: {len(played)} examples, {sum(checked)} sequenced events checked,"
          f" in {fuzz_s:.1f}s; restarts in"
          f" {time.monotonic() - started - fuzz_s:.1f}s")  # fmt: skip
    report = []
    report += broken
    if restart_fails:
        report.append("restart: " + "\n  ".join(restart_fails))
    assert not report, "\n\n".join(report)
