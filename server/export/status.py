"""`hallrate export status` and `hallrate export retry` (docs/export.md "Command line")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from server.db import begin_write
from server.export import outbox
from server.models import EXPORT_STATES, ExportOutbox
from server.reports.cli import err

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _is_last() -> Any:
    later = aliased(ExportOutbox)
    return ~exists().where(
        and_(
            later.target == ExportOutbox.target,
            later.record_id == ExportOutbox.record_id,
            later.seq > ExportOutbox.seq,
        )
    )


def _at(when: datetime, zone: ZoneInfo) -> str:
    """A time as the status prints it: hall-local, to the second, with its offset."""
    return when.astimezone(zone).isoformat(timespec="seconds")


def _configured() -> tuple[list[Any], str | None]:
    from server.export.targets import TargetsError, load_targets

    try:
        return load_targets(), None
    except TargetsError as e:
        return [], str(e)


def print_status(
    sessions: sessionmaker[Session],
    zone: ZoneInfo,
    only: str | None,
    state: str | None,
    limit: int,
) -> int:
    targets, problem = _configured()
    with sessions() as session:
        counts = outbox.counts(session)
        oldest = dict(
            session.execute(
                select(ExportOutbox.target, func.min(ExportOutbox.created_at))
                .where(ExportOutbox.state.in_(("pending", "sending")))
                .group_by(ExportOutbox.target)
            ).all()
        )
        last_ok = dict(
            session.execute(
                select(ExportOutbox.target, func.max(ExportOutbox.accepted_at)).group_by(
                    ExportOutbox.target
                )
            ).all()
        )
        session.rollback()
    if problem:
        print(f"targets file: {problem}")
    names = [t.name for t in targets] + sorted(
        n for n in counts if n not in {t.name for t in targets}
    )
    if only is not None and only not in names:
        known = ", ".join(names) or "none"
        return err(f"no target named {only!r} (targets: {known})", "hallrate export")
    described = {t.name: t for t in targets}
    for name in names:
        if only is not None and name != only:
            continue
        t = described.get(name)
        head = (
            f"target {name} ({t.profile.name}, {'enabled' if t.enabled else 'disabled'}, "
            f"halls {', '.join(t.halls)}, since {t.since})"
            if t is not None
            else f"target {name} (not in the targets file)"
        )
        print(head)
        got = counts.get(name, {s: 0 for s in EXPORT_STATES})
        print("  outbox: " + ", ".join(f"{s} {got[s]}" for s in EXPORT_STATES))
        if name in oldest and oldest[name] is not None:
            print(f"  oldest unsettled since {_at(oldest[name], zone)}")
        if (accepted := last_ok.get(name)) is not None:
            print(f"  last accepted {_at(accepted, zone)}")
        if got["rejected"]:
            print(f"ALERT export_rejected: target {name}: {got['rejected']} records rejected")
        if got["failed"]:
            print(f"ALERT export_failed: target {name}: {got['failed']} records failed")
    if state is not None:
        _rows(sessions, zone, only, state, limit)
    return 0


def _rows(
    sessions: sessionmaker[Session], zone: ZoneInfo, only: str | None, state: str, limit: int
) -> None:
    q = select(ExportOutbox).where(ExportOutbox.state == state)
    if only is not None:
        q = q.where(ExportOutbox.target == only)
    print("target\trecord_id\tevaluation_id\top\tseq\tattempts\tnext_attempt_at\tlast_error")
    with sessions() as session:
        for r in session.scalars(q.order_by(ExportOutbox.id).limit(limit)):
            nxt = _at(r.next_attempt_at, zone) if r.next_attempt_at else "-"
            error = " ".join((r.last_error or "").split())  # one line, no tabs
            print(
                f"{r.target}\t{r.record_id}\t{r.evaluation_id}\t{r.op}\t{r.seq}\t{r.attempts}\t"
                f"{nxt}\t{error}"
            )


def retry(sessions: sessionmaker[Session], target: str, now: datetime) -> dict[str, int]:
    """Another round for the records of ``target`` whose last row is rejected or failed:
    refused by the platform → pending with its attempts counted anew; refused locally (never
    sent) → built again at the next pass; failed (no answer) → checked at the platform first,
    then sent if it is not there. Returns how many of each."""
    out = {"rejected": 0, "local": 0, "failed": 0}
    with sessions() as session:
        begin_write(session)
        base = update(ExportOutbox).where(ExportOutbox.target == target, _is_last())
        res = session.execute(
            base.where(ExportOutbox.state == "rejected", ExportOutbox.attempts > 0)
            .values(state="pending", attempts=0, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        out["rejected"] = int(getattr(res, "rowcount", 0))
        res = session.execute(
            base.where(ExportOutbox.state == "rejected", ExportOutbox.attempts == 0)
            .values(evaluation_updated_at=EPOCH, last_error="")
            .execution_options(synchronize_session=False)
        )
        out["local"] = int(getattr(res, "rowcount", 0))
        res = session.execute(
            base.where(ExportOutbox.state == "failed")
            .values(state="sending", attempts=0, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        out["failed"] = int(getattr(res, "rowcount", 0))
        session.commit()
    return out
