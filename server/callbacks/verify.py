"""A stored worklist as the API shows it, and its verification: the frame's sha256 recomputed
and the draw redone from the stored frame, policy and seed (docs/phone-callbacks.md "Seed and
verify")."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.callbacks.frame import Frame, sha256
from server.callbacks.policy import CallbackPolicy
from server.callbacks.sampling import Pick, draw
from server.models import Hall
from server.models.callbacks import ENTRY_STATES, CallbackEntry, CallbackWorklist

MAX_DIFFERENCES = 20


def worklist_view(session: Session, wl: CallbackWorklist) -> dict[str, Any]:
    """The Worklist object of the API (docs/api.md)."""
    hall = session.get(Hall, wl.hall_id)
    counts = dict.fromkeys((s for s in ENTRY_STATES), 0)
    for state, n in session.execute(
        select(CallbackEntry.state, func.count(CallbackEntry.id))
        .where(CallbackEntry.worklist_id == wl.id)
        .group_by(CallbackEntry.state)
    ):
        counts[state] = int(n)
    frame = json.loads(wl.frame)
    return {
        "id": wl.id,
        "hall": hall.code if hall else None,
        "key": wl.key,
        "kind": wl.kind,
        "label": wl.label,
        "served_from": wl.served_from.isoformat(),
        "served_to": wl.served_to.isoformat(),
        "work_day": wl.work_day.isoformat(),
        "due_at": wl.due_at.isoformat(),
        "seed": wl.seed,
        "frame_sha256": wl.frame_sha256,
        "planned": wl.planned,
        "reserves": wl.reserves,
        "calendar_provisional": wl.calendar_provisional,
        "created_by": wl.created_by,
        "created_at": wl.created_at.isoformat(),
        "policy": json.loads(wl.policy),
        "counts": counts,
        "candidates": len(frame.get("candidates", [])),
        "excluded": dict(sorted(frame.get("counts", {}).items())),
    }


def _describe(p: tuple[int, bool, int, str] | None) -> str:
    if p is None:
        return "nothing"
    ticket_id, reserve, _, stratum = p
    return f"ticket {ticket_id} ({'reserve' if reserve else 'planned'}, {stratum})"


def verify_worklist(session: Session, worklist_id: int) -> dict[str, Any] | None:
    """None when there is no such worklist."""
    wl = session.get(CallbackWorklist, worklist_id)
    if wl is None:
        return None
    differences: list[str] = []
    intact = sha256(wl.frame) == wl.frame_sha256
    if not intact:
        differences.append("the stored frame does not match its sha256")
    try:
        frame = Frame.from_json(wl.frame)
        policy = CallbackPolicy(**json.loads(wl.policy))
        picks: list[Pick] = draw(frame.candidates, frame.kind, policy, wl.seed).picks
    except (ValueError, KeyError, TypeError) as e:
        differences.append(f"the stored frame or policy cannot be read: {e}")
        picks = []
    drawn = {p.position: (p.ticket_id, p.reserve, p.position, p.stratum) for p in picks}
    stored = {
        e.position: (e.ticket_id, e.reserve, e.position, e.stratum)
        for e in session.scalars(select(CallbackEntry).where(CallbackEntry.worklist_id == wl.id))
    }
    if len(drawn) != len(stored):
        differences.append(f"the redraw has {len(drawn)} entries, the list {len(stored)}")
    for position in sorted(set(drawn) | set(stored)):
        if drawn.get(position) != stored.get(position):
            differences.append(
                f"position {position}: redraw {_describe(drawn.get(position))}, "
                f"list {_describe(stored.get(position))}"
            )
    if len(differences) > MAX_DIFFERENCES:
        more = len(differences) - MAX_DIFFERENCES
        differences = [*differences[:MAX_DIFFERENCES], f"… and {more} more"]
    return {
        "worklist_id": wl.id,
        "matches": not differences,
        "seed": wl.seed,
        "frame_sha256": wl.frame_sha256,
        "frame_intact": intact,
        "differences": differences,
    }
