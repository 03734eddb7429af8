"""The roll-out engine (gateway/ota/plan.py) as pure functions: waves, soak, failures, the
per-group limit in opening hours, pause/resume/abort."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ota import plan
from gateway.ota.config import Settings
from gateway.ota.plan import Observation, Rollout, Target

REL = "0.3.0"
OLD = "0.2.0"


def rollout(**kw: object) -> Rollout:
    s = Settings(**kw)  # type: ignore[arg-type]
    return Rollout(1, REL, plan.RUNNING, s)


def targets(waves: dict[str, int], groups: dict[str, str] | None = None) -> plan.Targets:
    return {d: Target(d, w, (groups or {}).get(d, d)) for d, w in waves.items()}


def online(fw: str = OLD, **kw: object) -> Observation:
    return Observation(online=True, fw=fw, **kw)  # type: ignore[arg-type]


def offers(actions: list[plan.Action]) -> list[str]:
    return sorted(a.device for a in actions if a.kind == "offer")


def stops(actions: list[plan.Action]) -> list[str]:
    return sorted(a.device for a in actions if a.kind == "stop")


def test_waves_canaries_first_then_cumulative_percentages() -> None:
    kinds = {f"EV-{i:02d}": "evaluator" for i in range(1, 12)} | {"BB-01": "ballot_box"}
    waves = plan.assign_waves(kinds, Settings(waves=(10, 50, 100)))
    assert [d for d, w in waves.items() if w == 0] == ["BB-01", "EV-01"]
    rest = sorted(d for d in kinds if waves[d] != 0)  # 10 devices: 1, then 4, then 5
    assert [waves[d] for d in rest] == [1, 2, 2, 2, 2, 3, 3, 3, 3, 3]
    # 2 devices after the canaries: 10% rounds up to the first, 50% adds none (no empty wave).
    few = {"EV-01": "evaluator", "EV-02": "evaluator", "EV-03": "evaluator"}
    assert plan.assign_waves(few, Settings(waves=(10, 50, 100))) == {
        "EV-01": 0,
        "EV-02": 1,
        "EV-03": 2,
    }
    chosen = plan.assign_waves(kinds, Settings(canary=("EV-05",), waves=(100,)))
    assert chosen["EV-05"] == 0 and sorted(set(chosen.values())) == [0, 1]
    # Canaries of the settings outside this roll-out's devices: the first of each kind instead.
    some = {"EV-07": "evaluator", "EV-08": "evaluator"}
    assert plan.assign_waves(some, Settings(canary=("EV-05",), waves=(100,))) == {
        "EV-07": 0,
        "EV-08": 1,
    }


def test_a_canary_that_rolls_back_halts_the_rollout_and_says_why() -> None:
    r = rollout(soak_s=60)
    ts = targets({"EV-A01": 0, "EV-A02": 1, "EV-A03": 1})
    obs = {d: online() for d in ts}
    r, ts, acts = plan.step(r, ts, obs, 100.0, open_now=False)
    assert offers(acts) == ["EV-A01"]  # only the canary
    obs["EV-A01"] = online(upd_rel=REL, upd_st="staged", upd_at=110.0)
    r, ts, acts = plan.step(r, ts, obs, 111.0, False)
    assert acts == [] and ts["EV-A01"].switched
    err = "crash_loop: RuntimeError('boom')"
    obs["EV-A01"] = online(rb=err, upd_rel=REL, upd_st="rolled_back", upd_err=err, upd_at=150.0)
    r, ts, acts = plan.step(r, ts, obs, 151.0, False)
    assert r.state == plan.HALTED
    assert r.reason == "EV-A01 rolled back (crash_loop: RuntimeError('boom'))"
    assert ts["EV-A01"].state == plan.FAILED
    r, ts, acts = plan.step(r, ts, obs, 10_000.0, False)
    assert acts == [] and ts["EV-A02"].state == plan.WAITING  # never offered


def test_hb_rollback_counts_once_the_device_had_switched() -> None:
    r = rollout()
    ts = targets({"EV-A01": 0})
    obs = {"EV-A01": online(rb="crash_loop: old")}  # an older rollback: not this roll-out's
    r, ts, _ = plan.step(r, ts, obs, 0.0, False)
    assert r.state == plan.RUNNING and ts["EV-A01"].state == plan.UPDATING
    obs["EV-A01"] = online(fw=REL, pr=True)
    r, ts, _ = plan.step(r, ts, obs, 10.0, False)
    assert ts["EV-A01"].switched and ts["EV-A01"].state == plan.UPDATING  # on probation
    obs["EV-A01"] = online(fw=OLD, rb="probation_timeout")
    r, ts, _ = plan.step(r, ts, obs, 20.0, False)
    assert r.state == plan.HALTED and r.reason == "EV-A01 rolled back (probation_timeout)"


def test_a_wave_advances_only_after_its_devices_are_confirmed_and_healthy_for_soak() -> None:
    r = rollout(soak_s=100)
    ts = targets({"EV-A01": 0, "EV-A02": 1})
    obs = {d: online() for d in ts}
    r, ts, _ = plan.step(r, ts, obs, 0.0, False)
    obs["EV-A01"] = online(fw=REL, pr=True)  # on probation: not confirmed
    r, ts, _ = plan.step(r, ts, obs, 500.0, False)
    assert r.wave == 0 and ts["EV-A01"].state == plan.UPDATING
    obs["EV-A01"] = online(fw=REL, upd_rel=REL, upd_st="confirmed", upd_at=600.0)
    r, ts, acts = plan.step(r, ts, obs, 600.0, False)
    assert ts["EV-A01"].state == plan.CONFIRMED and r.wave == 0 and acts == []
    obs["EV-A01"] = replace(obs["EV-A01"], online=False)  # offline during the soak
    r, ts, _ = plan.step(r, ts, obs, 650.0, False)
    obs["EV-A01"] = replace(obs["EV-A01"], online=True)
    r, ts, _ = plan.step(r, ts, obs, 660.0, False)
    r, ts, acts = plan.step(r, ts, obs, 759.0, False)
    assert r.wave == 0 and acts == []  # the soak clock started again at 660
    r, ts, acts = plan.step(r, ts, obs, 760.0, False)
    assert r.wave == 1
    r, ts, acts = plan.step(r, ts, obs, 761.0, False)
    assert offers(acts) == ["EV-A02"]
    obs["EV-A02"] = online(fw=REL)
    r, ts, _ = plan.step(r, ts, obs, 770.0, False)
    r, ts, _ = plan.step(r, ts, obs, 870.0, False)
    assert r.state == plan.DONE and r.reason == f"2 of 2 devices confirmed on {REL}"


def test_a_device_already_on_the_release_is_not_offered_it() -> None:
    r = rollout(soak_s=0)
    ts = targets({"EV-A01": 0})
    r, ts, acts = plan.step(r, ts, {"EV-A01": online(fw=REL)}, 0.0, False)
    assert acts == [] and ts["EV-A01"].state == plan.CONFIRMED


def test_failures_refused_download_failed_and_not_back_in_time() -> None:
    r = rollout(max_failures=3, confirm_timeout_s=100, soak_s=0)
    ts = targets({"A": 0, "B": 0, "C": 0, "D": 1})
    obs = {d: online() for d in ts}
    r, ts, _ = plan.step(r, ts, obs, 0.0, False)
    obs["A"] = online(upd_rel=REL, upd_st="refused", upd_err="signature", upd_at=1.0)
    obs["B"] = online(upd_rel=REL, upd_st="failed", upd_err="sha256", upd_at=1.0)
    obs["C"] = online(upd_rel=REL, upd_st="downloading", upd_off=4096, upd_at=1.0)
    r, ts, _ = plan.step(r, ts, obs, 2.0, False)
    assert r.state == plan.RUNNING and plan.failures(ts) == [ts["A"], ts["B"]]
    r, ts, _ = plan.step(r, ts, obs, 100.0, False)
    assert ts["C"].state == plan.UPDATING
    r, ts, _ = plan.step(r, ts, obs, 101.0, False)
    assert r.state == plan.HALTED
    assert r.reason == (
        "A refused the update (signature); B download failed (sha256);"
        " C not back within 100 s (last state: downloading)"
    )


def test_never_more_than_k_of_a_group_in_opening_hours_and_no_limit_outside() -> None:
    ts = targets({"A1": 0, "A2": 0, "A3": 0, "B1": 0}, {"A1": "a", "A2": "a", "A3": "a", "B1": "b"})
    obs = {d: online() for d in ts}
    r = rollout(max_per_group=2)
    _, _, acts = plan.step(r, ts, obs, 0.0, open_now=True)
    assert offers(acts) == ["A1", "A2", "B1"]
    _, _, acts = plan.step(r, ts, obs, 0.0, open_now=False)
    assert offers(acts) == ["A1", "A2", "A3", "B1"]


def test_opening_hours_begin_stop_the_excess_downloads_not_the_switched() -> None:
    ts = targets({"A1": 0, "A2": 0, "A3": 0}, dict.fromkeys(("A1", "A2", "A3"), "a"))
    obs = {d: online() for d in ts}
    r = rollout(max_per_group=1)
    r, ts, _ = plan.step(r, ts, obs, 0.0, open_now=False)
    obs["A1"] = online(upd_rel=REL, upd_st="staged", upd_at=5.0)
    obs["A2"] = online(upd_rel=REL, upd_st="downloading", upd_at=5.0)
    r, ts, acts = plan.step(r, ts, obs, 10.0, open_now=True)
    assert stops(acts) == ["A2", "A3"] and offers(acts) == []
    assert [ts[d].state for d in ("A1", "A2", "A3")] == [plan.UPDATING, plan.WAITING, plan.WAITING]


def test_pause_stops_downloads_resume_offers_again_abort_keeps_the_confirmed() -> None:
    r = rollout(soak_s=1000)
    ts = targets({"A": 0, "B": 0, "C": 0})
    obs = {d: online() for d in ts}
    r, ts, _ = plan.step(r, ts, obs, 0.0, False)
    obs["A"] = online(fw=REL)
    obs["B"] = online(upd_rel=REL, upd_st="downloading", upd_off=2048, upd_at=1.0)
    r, ts, _ = plan.step(r, ts, obs, 2.0, False)
    r, ts, acts = plan.step(replace(r, state=plan.PAUSED), ts, obs, 3.0, False)
    assert stops(acts) == ["B", "C"] and ts["B"].state == plan.WAITING
    r, ts, acts = plan.step(r, ts, obs, 4.0, False)
    assert acts == []  # paused: nothing offered
    r, ts, acts = plan.step(replace(r, state=plan.RUNNING), ts, obs, 5.0, False)
    assert offers(acts) == ["B", "C"]
    r, ts, acts = plan.step(replace(r, state=plan.ABORTED), ts, obs, 6.0, False)
    assert stops(acts) == ["B", "C"]
    assert [ts[d].state for d in "ABC"] == [plan.CONFIRMED, plan.STOPPED, plan.STOPPED]


def test_an_updating_device_that_says_nothing_is_offered_again() -> None:
    r = rollout()
    ts = targets({"A": 0})
    obs = {"A": online()}
    r, ts, _ = plan.step(r, ts, obs, 100.0, False)
    r, ts, acts = plan.step(r, ts, obs, 100 + plan.REOFFER_S - 1, False)
    assert acts == []
    r, ts, acts = plan.step(r, ts, obs, 100 + plan.REOFFER_S, False)
    assert offers(acts) == ["A"]


# ---- properties over random fleets ----------------------------------------------------------

EVENTS = ("nothing", "offline", "online", "download", "stage", "probation", "confirm", "rollback")


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 9),
    n_groups=st.integers(1, 3),
    k=st.integers(1, 3),
    max_failures=st.integers(1, 3),
    soak=st.sampled_from([0, 5, 20]),
    script=st.lists(st.tuples(st.integers(0, 8), st.sampled_from(EVENTS)), max_size=120),
)
def test_random_fleets_keep_the_rules(
    n: int,
    n_groups: int,
    k: int,
    max_failures: int,
    soak: int,
    script: list[tuple[int, str]],
) -> None:
    devices = [f"EV-{i}" for i in range(n)]
    s = Settings(waves=(34, 67, 100), soak_s=soak, max_failures=max_failures, max_per_group=k)
    waves = plan.assign_waves(dict.fromkeys(devices, "evaluator"), s)
    ts = targets(waves, {d: f"g{i % n_groups}" for i, d in enumerate(devices)})
    r = Rollout(1, REL, plan.RUNNING, s)
    obs = {d: online() for d in devices}
    for step_no, (i, ev) in enumerate(script):
        now = float(step_no * 3)
        d = devices[i % n]
        o = obs[d]
        if ev == "offline":
            o = replace(o, online=False)
        elif ev == "online":
            o = replace(o, online=True)
        elif ev in ("download", "stage", "probation", "confirm", "rollback") and (
            ts[d].state == plan.UPDATING
        ):
            st_ = {
                "download": "downloading",
                "stage": "staged",
                "probation": "probation",
                "confirm": "confirmed",
                "rollback": "rolled_back",
            }[ev]
            fw = REL if ev in ("probation", "confirm") else OLD
            o = replace(o, fw=fw, pr=ev == "probation", upd_rel=REL, upd_st=st_, upd_at=now)
        obs[d] = o
        prev = r
        r, ts, _ = plan.step(r, ts, obs, now, open_now=True)
        groups: dict[str, int] = {}
        for t in ts.values():
            if t.state == plan.UPDATING:
                groups[t.group] = groups.get(t.group, 0) + 1
        assert all(c <= k for c in groups.values()), groups  # never more than K per group
        assert all(t.state == plan.WAITING for t in ts.values() if t.wave > r.wave)
        n_failed = len(plan.failures(ts))
        if prev.state == plan.RUNNING:
            assert (r.state == plan.HALTED) == (n_failed >= max_failures)
        if r.wave > prev.wave:  # advanced: every earlier device confirmed and soaked, or failed
            for t in ts.values():
                if t.wave <= prev.wave:
                    assert t.state in (plan.CONFIRMED, plan.FAILED)
                    if t.state == plan.CONFIRMED:
                        assert t.healthy_since is not None and now - t.healthy_since >= soak
