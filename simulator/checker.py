"""`--check`: the server's per-window and per-channel counts and 30/30/40 scores against the
ground-truth ledger, exactly. Any difference is a bug somewhere in the chain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from simulator.ground_truth import CHANNELS, HALL, Ledger
from simulator.hall_model import LEVELS


@dataclass(frozen=True)
class Difference:
    scope: str  # window code, or "_hall"
    what: str  # "evaluator/satisfied", "score", "excluded/evaluator"
    expected: object
    actual: object


def _counts(result: dict[str, Any], channel: str) -> dict[str, int]:
    ch = (result.get("channels") or {}).get(channel) or {}
    counts = ch.get("counts") or {}
    return {lv: int(counts.get(lv, 0)) for lv in LEVELS}


def compare_scope(
    scope: str,
    expected: dict[str, dict[str, int]],
    expected_score: dict[str, str | None],
    result: dict[str, Any] | None,
) -> list[Difference]:
    diffs: list[Difference] = []
    if result is None:
        result = {}
    for ch in CHANNELS:
        got = _counts(result, ch)
        for lv in LEVELS:
            if got[lv] != expected[ch][lv]:
                diffs.append(Difference(scope, f"{ch}/{lv}", expected[ch][lv], got[lv]))
    score = (result.get("score") or {}).get("exact")
    if score != expected_score.get("exact"):
        diffs.append(Difference(scope, "score", expected_score.get("exact"), score))
    return diffs


def compare_excluded(ledger: Ledger, hall_result: dict[str, Any] | None) -> list[Difference]:
    """Flagged ratings are stored and never counted: the hall's excluded totals per channel (the
    gateway's misuse, no_ticket and duplicate_ticket, and 一次一评's losers)."""
    chans = (((hall_result or {}).get("excluded") or {}).get("channels")) or {}
    diffs = []
    want = ledger.excluded or {  # a ledger written before 一次一评
        "evaluator": ledger.flags["misuse"] + ledger.flags["no_ticket"],
        "ballot_box": ledger.flags["duplicate_ticket"],
    }
    for ch, n in want.items():
        got = int((chans.get(ch) or {}).get("total", 0))
        if got != n:
            diffs.append(Difference(HALL, f"excluded/{ch}", n, got))
    return diffs


def compare(ledger: Ledger, results: dict[str, dict[str, Any] | None]) -> list[Difference]:
    """Every scope of the ledger against the fetched score results (key HALL or a window)."""
    diffs = compare_scope(HALL, ledger.hall_counts, ledger.scores[HALL], results.get(HALL))
    diffs += compare_excluded(ledger, results.get(HALL))
    for w in sorted(ledger.windows):
        diffs += compare_scope(w, ledger.windows[w], ledger.scores[w], results.get(w))
    return diffs


def login(client: httpx.Client, base_url: str, username: str, password: str) -> str:
    r = client.post(
        f"{base_url}/api/v1/auth/token", json={"username": username, "password": password}
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def fetch_results(
    base_url: str, username: str, password: str, ledger: Ledger, start: date, end: date
) -> dict[str, dict[str, Any] | None]:
    """GET /api/v1/scores for the hall and each window over [start, end]."""
    out: dict[str, dict[str, Any] | None] = {}
    with httpx.Client(timeout=30.0) as client:
        token = login(client, base_url, username, password)
        headers = {"Authorization": f"Bearer {token}"}
        scopes: list[str | None] = [None, *sorted(ledger.windows)]
        for w in scopes:
            params = {"hall": ledger.hall, "from": start.isoformat(), "to": end.isoformat()}
            if w is not None:
                params["window"] = w
            r = client.get(f"{base_url}/api/v1/scores", params=params, headers=headers)
            if r.status_code == 404 and w is not None:
                out[w] = None  # the server never heard of this window: nothing counted there
                continue
            r.raise_for_status()
            out[HALL if w is None else w] = r.json()["result"]
    return out


def render(diffs: list[Difference], limit: int = 60) -> str:
    if not diffs:
        return "differences: none (server == ground truth)"
    rows = [("scope", "what", "expected", "server")]
    rows += [(d.scope, d.what, str(d.expected), str(d.actual)) for d in diffs[:limit]]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"differences: {len(diffs)}"]
    lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    if len(diffs) > limit:
        lines.append(f"  … and {len(diffs) - limit} more")
    return "\n".join(lines)
