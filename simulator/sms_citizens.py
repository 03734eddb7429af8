"""The SMS channel driven live (docs/simulator.md, "The SMS channel").

Citizens who did not rate on site (no evaluator press, no readable ballot for their ticket) leave
a phone number with the queue system (`ph` on the finish event) with probability ``P_PHONE``,
seeded. After the day has been played, the sender (server.sms.sender.Sender, the real Alibaba
Cloud SDK) texts them through the local SMS platform (`hallrate sms platform`), with its clock
at the day's last finish + 1 minute; each citizen then answers through the platform's
POST /_sim/reply at a simulated time: the ground-truth level as a digit or in words, nothing,
garbage, too late (after the reply window) or 退订 (TD). The replies are pulled from the
platform (the pull step of `hallrate sms send`). Only in-window ratings count: the ledger's
``sms`` events are exactly those, at the reply time.
"""

from __future__ import annotations

import json
import random
import urllib.request
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from simulator.hall_model import LEVELS, Event, HallSpec, Script

P_PHONE = 0.85
REPLY_WINDOW_H = 2
# The sim server's and sender's policy: texts right after the finish, no quiet hours, a short
# reply window so that late replies stay on the simulated day.
POLICY_TOML = (
    f'sms_reply_window = "{REPLY_WINDOW_H}h"\n\n[sms]\nsend_mode = "after_finish"\n'
    'send_after_minutes = 0\nquiet_hours = ""\ndaily_budget = 1000000\n'
)
WORDS = {
    "very_satisfied": "非常满意",
    "satisfied": "满意，谢谢",
    "basically_satisfied": "基本满意",
    "dissatisfied": "不满意",
    "very_dissatisfied": "非常不满意",
}
GARBAGE = ("在吗", "请问几点下班", "[图片]")


@dataclass(frozen=True)
class Citizen:
    ticket: str
    phone: str
    kind: str  # digits | words | none | garbage | late | opt_out
    level: str  # the ground truth (counted only for digits / words)
    after_s: int  # reply delay after the text (late: after the reply window)
    text: str | None


def plan(script: Script, spec: HallSpec, seed: int) -> tuple[Script, list[Citizen]]:
    """The script with phones on finish events and only the counted SMS ratings as ``sms``
    events (their time set later, by :func:`retime`), and the citizens who get a text."""
    rng = random.Random(f"{seed}-sms-citizens")
    balloted = {e.ticket for e in script.events if e.kind == "drop" and e.ticket}
    finish = {e.ticket: e for e in script.events if e.kind == "queue" and e.ev == "finish"}
    citizens: list[Citizen] = []
    keep: list[Event] = []
    phones: dict[str, str] = {}
    for e in script.events:
        if e.kind != "sms":
            keep.append(e)
            continue
        fin = finish.get(e.ticket)
        if fin is None or e.ticket in balloted or e.ticket in phones:
            continue
        if rng.random() >= P_PHONE:
            continue
        assert e.ticket is not None
        phone = f"139{seed % 1000:03d}{len(citizens) + 1:05d}"  # unique per seed (demo: per day)
        phones[e.ticket] = phone
        after = max(60, min(e.t - fin.t, 3 * 3600))
        text: str | None
        if e.level is not None:
            kind = "digits" if rng.random() < 0.5 else "words"
            lv = e.level
            text = str(LEVELS.index(lv) + 1) if kind == "digits" else WORDS[lv]
            # The SMS pipeline names the ticket's own day (一次一评's slot).
            day = datetime.fromtimestamp(fin.t, ZoneInfo(spec.tz)).date().isoformat()
            keep.append(replace(e, phone=phone, ticket_day=day))
        else:
            lv = LEVELS[rng.randrange(len(LEVELS))]
            kind = rng.choices(["none", "garbage", "late", "opt_out"], [50, 20, 15, 15])[0]
            text = {
                "none": None,
                "garbage": GARBAGE[rng.randrange(len(GARBAGE))],
                "late": str(LEVELS.index(lv) + 1),
                "opt_out": "TD",
            }[kind]
            if kind == "late":
                after = REPLY_WINDOW_H * 3600 + rng.randint(60, 1800)
            else:
                after = min(after, REPLY_WINDOW_H * 3600 - 60)
        if kind in ("digits", "words"):
            after = min(after, REPLY_WINDOW_H * 3600 - 60)
        citizens.append(Citizen(e.ticket, phone, kind, lv, after, text))
    events = [
        replace(e, phone=phones[e.ticket])
        if e.kind == "queue" and e.ev == "finish" and e.ticket in phones
        else e
        for e in keep
    ]
    return replace(script, events=events), citizens


def send_time(script: Script) -> int:
    """When the sender runs (simulated): a minute after the day's last finish with a phone."""
    fins = [e.t for e in script.events if e.kind == "queue" and e.ev == "finish" and e.phone]
    return max(fins, default=0) + 60


def retime(script: Script, citizens: list[Citizen]) -> Script:
    """Counted SMS ratings happen at the reply time (the text's time + the citizen's delay)."""
    sent = send_time(script)
    after = {c.ticket: c.after_s for c in citizens}
    events = [
        replace(e, t=sent + after[e.ticket]) if e.kind == "sms" and e.ticket in after else e
        for e in script.events
    ]
    return replace(script, events=sorted(events, key=lambda e: e.t))


def _sim(endpoint: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"http://{endpoint}/_sim/{path}",
        data=data,
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def run_live(
    script: Script,
    spec: HallSpec,
    citizens: list[Citizen],
    database_url: str,
    endpoint: str,
    policy_file: Path,
    phone_key: str,
) -> dict[str, Any]:
    """Send, reply, pull. Returns counts for the summary."""
    from pydantic import SecretStr

    from server.config import Settings
    from server.db import make_engine, make_sessionmaker
    from server.policy import load_policy
    from server.sms.intake import intake
    from server.sms.providers import SmsSettings, make_provider
    from server.sms.sender import Sender

    settings = Settings(
        database_url=database_url, phone_key=SecretStr(phone_key), policy_file=str(policy_file)
    )
    policy = load_policy(str(policy_file))
    provider = make_provider(SmsSettings(sms_provider="local", sms_endpoint=endpoint))
    sent_t = send_time(script)
    sent_at = datetime.fromtimestamp(sent_t, UTC)
    engine = make_engine(database_url)
    try:
        sessions = make_sessionmaker(engine)
        sender = Sender(sessions, provider, policy, settings.phone_cipher, clock=lambda: sent_at)
        report = sender.run_once()
        inbox = _sim(endpoint, "phones")
        replied = 0
        for c in citizens:
            if c.text is None or c.phone not in inbox:
                continue
            at = datetime.fromtimestamp(sent_t + c.after_s, ZoneInfo(spec.tz))
            _sim(endpoint, "reply", {"phone": c.phone, "text": c.text, "at": at.isoformat()})
            replied += 1
        since = datetime.combine(spec.day, time(0), ZoneInfo(spec.tz)) - timedelta(hours=1)
        with sessions() as session:
            res = intake(session, provider, since, settings=settings, policy=policy)
    finally:
        engine.dispose()
    return {
        "citizens_with_phone": len(citizens),
        "texts_accepted": report.accepted,
        "texted_phones": len(inbox),
        "replies_sent": replied,
        "reply_outcomes": dict(res.outcomes),
        "reply_kinds": _count(c.kind for c in citizens),
    }


def answer_texts(endpoint: str, citizens: dict[str, Citizen], answered: set[str]) -> int:
    """The demo's citizens: each answers its first text at once (late ones never do)."""
    n = 0
    for phone in _sim(endpoint, "phones"):
        c = citizens.get(phone)
        if c is None or phone in answered:
            continue
        answered.add(phone)
        if c.text is not None and c.kind != "late":
            _sim(endpoint, "reply", {"phone": phone, "text": c.text})
            n += 1
    return n


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return dict(sorted(out.items()))
