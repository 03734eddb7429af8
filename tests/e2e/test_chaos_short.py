"""The short chaos run (issue 6's "done when"): 5 windows, 500 tickets, every fault, 2 evaluators on
the real firmware, through the real broker, gateway and server processes; the server must equal
the ground truth exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator import checker, faults
from simulator.orchestrator import SimOptions, run
from simulator.summary import render_summary

pytestmark = [pytest.mark.e2e, pytest.mark.micropython]


@pytest.mark.timeout(300)
def test_chaos_short(tmp_path: Path, micropython: str) -> None:
    opts = SimOptions(
        windows=5,
        tickets=500,
        speed=1000,
        seed=7,
        faults=faults.ALL,
        real_firmware=2,
        workdir=tmp_path / "sim",
        progress=False,
        micropython=micropython,
        phone="api",  # call-backs over HTTP; the browser path: test_simulate_phone_browser.py
    )
    res = run(opts)
    report = (
        render_summary(res)
        + "\n"
        + checker.render(res.diffs)
        + "\n"
        + "\n".join(res.fault_log.notes)
    )
    assert set(res.summary["faults"]) == set(faults.ALL), report
    assert res.summary["firmware_devices"] == ["EV-A01", "EV-A02"], report
    assert res.summary["unclosable_gaps"] == 0, report
    assert res.ok, report
    assert res.elapsed_s < 180, report
