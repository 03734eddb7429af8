"""Issue #14's "done when": a simulated day, the worklist drawn for the next working day, and one
agent completing it by keyboard in headless Chromium (3 completed calls, 1 no-answer rescheduled,
1 refusal); the phone rate on /api/v1/scores is then exactly the citizens' answers."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator import callback_citizens
from simulator.orchestrator import SimOptions, Simulation, run_simulation
from simulator.services import ADMIN
from tests.conftest import require_service

pytestmark = pytest.mark.e2e

SCRIPTS: list[tuple[tuple[str, ...], str]] = [
    (("completed",), "very_satisfied"),
    (("completed",), "satisfied"),
    (("completed",), "dissatisfied"),
    (("no_answer",), "satisfied"),
    (("refused",), "satisfied"),
]


def _five_citizens(monkeypatch: pytest.MonkeyPatch) -> list[callback_citizens.CallCitizen]:
    """The first five citizens with a phone answer as SCRIPTS; the simulated day must have
    exactly five (the seed below gives a day where it does: checked), none of whom rates by SMS
    or opts out (一次一评: a call-back after a counted SMS reply would be a duplicate_ticket)."""
    planned: list[callback_citizens.CallCitizen] = []
    real_plan = callback_citizens.plan

    def plan(*args: Any, **kwargs: Any) -> list[callback_citizens.CallCitizen]:
        citizens = real_plan(*args, **kwargs)
        assert len(citizens) == len(SCRIPTS), f"the seed gives {len(citizens)} citizens"
        texted = args[1]  # the SMS channel's citizens
        assert all(c.kind in ("none", "garbage", "late") for c in texted)
        out = [
            replace(
                c,
                answers=answers,
                level=level,
                reasons=("态度不好",) if level == "dissatisfied" else (),
                comment="",
            )
            for c, (answers, level) in zip(citizens, SCRIPTS, strict=True)
        ]
        planned.extend(out)
        return out

    monkeypatch.setattr(callback_citizens, "plan", plan)
    return planned


@pytest.mark.timeout(300)
def test_day_worklist_agent_by_keyboard_scores_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_service("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    citizens = _five_citizens(monkeypatch)
    opts = SimOptions(
        windows=1,
        tickets=20,
        speed=2000,
        seed=1488,
        ballot_boxes=1,
        progress=False,
        workdir=tmp_path / "sim",
        phone="browser",
        phone_agents=1,
        phone_retries=False,  # the no-answer stays rescheduled
    )
    sim = Simulation(opts)
    res = run_simulation(sim)
    assert res.ok, res.diffs
    phone = res.summary["phone"]
    assert phone["mode"] == "browser" and phone["entries"] == 5
    (agent,) = phone["agents"]
    assert agent["dispositions"] == {"completed": 3, "no_answer": 1, "refused": 1}
    assert agent["reveals"] == 5 and agent["unknown_numbers"] == 0

    # Restart the server on the kept database and read what the agent left behind.
    svc = sim.svc
    assert svc is not None
    svc.start_server()
    try:
        base = svc.server_url + "/api/v1"
        with httpx.Client(timeout=30) as client:
            token = client.post(
                f"{base}/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]}
            ).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            worklist = client.get(f"{base}/callbacks/worklists/{phone['worklist']}").json()
            assert worklist["counts"]["completed"] == 3
            assert worklist["counts"]["open"] == 1  # the no-answer, rescheduled
            assert worklist["counts"]["closed"] == 1  # the refusal
            (retry,) = client.get(f"{base}/callbacks/queue").json()["items"] or [None]
            assert retry is not None and retry["disposition"] == "no_answer"
            assert retry["attempts"] == 1 and retry["next_call_at"] is not None
            day = citizens[0]
            # The calls are dated today: the period reaches today.
            params = {"hall": opts.hall, "from": opts.spec().day.isoformat(), "to": _today()}
            scores = client.get(f"{base}/scores", params=params)
            assert scores.status_code == 200, scores.text
            channel = scores.json()["result"]["channels"]["phone"]
            assert channel["total"] == 3
            assert channel["counts"]["very_satisfied"] == 1
            assert channel["counts"]["satisfied"] == 1
            assert channel["counts"]["dissatisfied"] == 1
            assert channel["rate"]["exact"] == "2/3"  # 非常满意 + 满意 of 3 有效 calls
            assert day.phone  # the citizens were real numbers on real tickets
    finally:
        svc.stop_server()


def _today() -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
