"""The simulation's summary: what was driven, what the chain did, and its one-screen rendering."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from simulator.device_models import Fleet
from simulator.ground_truth import HALL

if TYPE_CHECKING:
    from simulator.orchestrator import SimResult, Simulation


def collect(sim: Simulation, fleet: Fleet, queue: Any, status: dict[str, Any]) -> dict[str, Any]:
    led = sim.ledger
    votes = {ch: sum(led.hall_counts[ch].values()) for ch in led.hall_counts}
    lost = status.get("lost") or []
    return {
        "votes_by_channel": votes,
        "unattributed_ballots": sum(led.unattributed["ballot_box"].values()),
        "flags": dict(led.flags),
        "score": led.scores[HALL],
        "stats": dict(led.stats),
        "device_events": fleet.total("events"),
        "resend_requests_answered": fleet.total("resend_requests"),
        "resends": fleet.total("resends"),
        "gone_sent": fleet.total("gone"),
        "stale_requests_ignored": fleet.total("stale_reqs"),
        "presses_waiting_for_unpause": sim.unpause_waits,
        "misrouted_downlinks_ignored": fleet.total("misrouted"),
        "unclosable_gaps": len(lost),
        "queue": dict(getattr(queue, "stats", {})),
        "faults": dict(sim.fault_log.injected),
        "fault_notes": list(sim.fault_log.notes),
        "sms": dict(sim.sms_stats),
        "phone": dict(sim.phone_stats),
        "online": dict(sim.online_stats),
        "excluded_by_channel": dict(led.excluded),
        "firmware_devices": sorted(sim.spec.evaluator_id(w) for w in sim.firmware),
    }


def render_summary(res: SimResult) -> str:
    s = res.summary
    rows = [
        ("votes by channel", ", ".join(f"{k} {v}" for k, v in s["votes_by_channel"].items())),
        ("unattributed ballots", str(s["unattributed_ballots"])),
        ("flagged (stored, not counted)", ", ".join(f"{k} {v}" for k, v in s["flags"].items())),
        ("score (30/30/40)", f"{s['score'].get('percent')}%  exact {s['score'].get('exact')}"),
        ("device events", str(s["device_events"])),
        (
            "gaps closed by resend",
            f"{s['resend_requests_answered']} resend requests answered, "
            f"{s['resends']} resends, {s['gone_sent']} gone",
        ),
        ("unclosable gaps", str(s["unclosable_gaps"])),
        ("faults injected", ", ".join(f"{k}×{v}" for k, v in s["faults"].items()) or "none"),
        (
            "sms (live)",
            json.dumps(s.get("sms") or {}, ensure_ascii=False) if s.get("sms") else "imported",
        ),
        ("phone (live)", _phone_line(s.get("phone") or {})),
        ("online", json.dumps(s.get("online") or {}, ensure_ascii=False) or "none"),
        ("real firmware", ", ".join(s["firmware_devices"]) or "none"),
        ("differences", str(len(res.diffs))),
        ("elapsed", f"{res.elapsed_s:.1f} s"),
    ]
    w = max(len(r[0]) for r in rows)
    return "\n".join(f"  {k.ljust(w)}  {v}" for k, v in rows)


def _phone_line(phone: dict[str, Any]) -> str:
    if not phone:
        return "imported"
    stats = phone.get("stats") or {}
    rate = (stats.get("satisfaction") or {}).get("rate")
    if isinstance(rate, dict):
        rate = rate.get("percent") or rate.get("exact")
    return (
        f"{phone.get('mode')}: worklist {phone.get('worklist')} for {phone.get('work_day')}, "
        f"{phone.get('entries')} entries, "
        f"{sum(a['attempts'] for a in phone.get('agents', []))} attempts by "
        f"{len(phone.get('agents', []))} agents, 满意率 {rate}"
    )
