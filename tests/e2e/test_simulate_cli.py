"""`hallrate simulate --check` end to end through the serial adapter (a socat pty pair) with noise
and duplicates on the line, and the demo feed against an already running chain."""

from __future__ import annotations

import shutil
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from simulator import checker
from simulator.cli import main
from simulator.demo_feed import run_demo_feed
from simulator.ground_truth import compute, period
from simulator.hall_model import HallSpec, build
from simulator.services import ADMIN, HallServices
from tests.conftest import require_service

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(240)
def test_simulate_check_over_serial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_service("socat", shutil.which("socat") is not None, "apt-get install socat")
    code = main(
        [
            "--windows",
            "2",
            "--tickets",
            "60",
            "--speed",
            "2000",
            "--seed",
            "3",
            "--queue",
            "serial",
            "--faults",
            "malformed,duplicates",
            "--phone",
            "api",
            "--check",
            "--quiet",
            "--workdir",
            str(tmp_path / "sim"),
            "--ledger",
            str(tmp_path / "ledger.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "differences: none" in out
    assert (tmp_path / "ledger.json").exists()


@pytest.mark.timeout(240)
def test_demo_feed_one_day_equals_ground_truth(tmp_path: Path) -> None:
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)
    spec = HallSpec(windows=2, tickets=60, seed=11, day=day)
    svc = HallServices(spec, tmp_path / "chain")
    try:
        svc.start_all()
        host, port = svc.broker_host_port
        fed = run_demo_feed(
            svc.gateway_url,
            svc.queue_token,
            f"mqtt://{host}:{port}",
            windows=2,
            tickets_per_day=60,
            seed=11,
            first_day=day,
            first_day_speed=3000,
            days=1,
            database_url=svc.database_url,
            workdir=tmp_path / "feed",
            stop=threading.Event(),
        )
        assert fed == 1
        ledger = compute(build(spec))
        start, end = period(ledger)
        end = max(end, datetime.now(ZoneInfo("Asia/Shanghai")).date())
        diffs: list[checker.Difference] = []
        for _ in range(20):  # the gateway forwards in the background
            results = checker.fetch_results(svc.server_url, ADMIN[0], ADMIN[1], ledger, start, end)
            diffs = checker.compare(ledger, results)
            if not diffs:
                break
            threading.Event().wait(1.0)
        assert not diffs, checker.render(diffs)
    finally:
        svc.stop_all()
