"""The online channel driven live (docs/simulator.md, "The online channel").

Citizens who rated nothing on site (no evaluator press, no readable ballot) and left no phone
number (so get no SMS and no call-back) scan the rating link (二维码评价) with probability
``share``, seeded. The gateway signs each finished ticket's link offline (gateway/rating_links.py):
over the HTTP queue adapter the simulator takes it from the push answer, over the serial adapter
from the gateway's ``GET /online/link``. After the day has been played and the gateway has
forwarded every ticket, each such citizen POSTs the rating form to the link on the server
(``/r/{token}``: level, 差评 reasons for 不满意 / 非常不满意, sometimes a comment) and follows
the 303 to the 已评价 page. The server dates an online rating when it receives it (today), so the
ledger's ``online`` events are at the plan time; they name the ticket's own day.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from simulator.hall_model import LEVELS, Event, Script, _choice

DEFAULT_SHARE = 0.3
RATING_DAYS = 7  # the server's default [online] rating_days: older days get no online raters
# An SMS reply this close to the online ratings could land on either side of them.
SMS_CLEARANCE_S = 6 * 3600
# The sim server's [online] table: one simulated town posts every rating from 127.0.0.1.
POLICY_TOML = (
    "\n[online]\nattempts_per_address_per_hour = 100000\nattempts_per_ticket_per_hour = 1000\n"
)
DISSATISFIED = ("dissatisfied", "very_dissatisfied")
REASONS = ("态度不好", "效率低", "排队时间长")  # on the default [online] bad_reasons list
COMMENTS = ("工作人员很耐心", "希望增加自助机", "办理很快")


@dataclass(frozen=True)
class OnlineCitizen:
    ticket: str
    ticket_day: str
    window: str
    level: str
    reasons: tuple[str, ...]
    comment: str

    def form(self) -> dict[str, str | list[str]]:
        """The rating form's fields (application/x-www-form-urlencoded; ``reasons`` repeated)."""
        fields: dict[str, str | list[str]] = {"level": self.level, "lang": "zh"}
        if self.reasons:
            fields["reasons"] = list(self.reasons)
        if self.comment:
            fields["comment"] = self.comment
        return fields


def ticket_days(script: Script) -> dict[str, str]:
    """Each ticket's own day: the hall-local day of its finish."""
    tz = ZoneInfo(script.spec.tz)
    return {
        e.ticket: datetime.fromtimestamp(e.t, tz).date().isoformat()
        for e in script.events
        if e.kind == "queue" and e.ev == "finish" and e.ticket
    }


def plan(
    script: Script, share: float, seed: int, at: int, today: date
) -> tuple[Script, list[OnlineCitizen]]:
    """The script with an ``online`` event (at ``at``) for each citizen who rates online."""
    rng = random.Random(f"{seed}-online-citizens")
    on_site = {
        e.ticket
        for e in script.events
        if e.ticket and ((e.kind == "press" and e.role == "first") or e.kind == "drop")
    }
    phoned = {e.ticket for e in script.events if e.kind == "phone"}
    phoned |= {e.ticket for e in script.events if e.kind == "queue" and e.phone}
    unordered = {e.ticket for e in script.events if e.kind == "sms" and e.t > at - SMS_CLEARANCE_S}
    skip = on_site | phoned | unordered
    days = ticket_days(script)
    citizens: list[OnlineCitizen] = []
    events: list[Event] = []
    for e in script.events:
        if not (e.kind == "queue" and e.ev == "finish" and e.ticket and e.window):
            continue
        draw = rng.random()
        level = LEVELS[_choice(rng, script.profiles[e.window].levels)]
        reason = REASONS[rng.randrange(len(REASONS))]
        comment = COMMENTS[rng.randrange(len(COMMENTS))] if rng.random() < 0.2 else ""
        age = (today - date.fromisoformat(days[e.ticket])).days
        if draw >= share or e.ticket in skip:
            continue
        if not 0 <= age <= RATING_DAYS:
            continue
        reasons = (reason,) if level in DISSATISFIED else ()
        c = OnlineCitizen(e.ticket, days[e.ticket], e.window, level, reasons, comment)
        citizens.append(c)
        events.append(
            Event(
                at,
                "online",
                e.window,
                e.ticket,
                level,
                id=f"WEB{len(citizens):07d}",
                staff=e.staff,
                matter=e.matter,
                ticket_day=c.ticket_day,
            )
        )
    kept = [e for e in script.events if e.kind != "online"]
    return replace(script, events=sorted([*kept, *events], key=lambda e: e.t)), citizens


def run_live(
    citizens: list[OnlineCitizen],
    links: dict[tuple[str, str], str],
    gateway_url: str,
    queue_token: str,
    attempts: int = 5,
) -> dict[str, Any]:
    """Each citizen opens its link (from the push answer, else the gateway's GET /online/link)
    and submits the form; returns the figures for the summary."""
    stats: dict[str, Any] = {
        "citizens": len(citizens),
        "links_from_push": 0,
        "links_from_gateway": 0,
        "submitted": 0,
        "thanked": 0,
        "refused": {},
    }
    auth = {"Authorization": f"Bearer {queue_token}"}
    with httpx.Client(timeout=20.0) as client:
        for c in citizens:
            url = links.get((c.ticket, c.ticket_day))
            if url is not None:
                stats["links_from_push"] += 1
            else:
                r = _retry(
                    lambda c=c: client.get(
                        f"{gateway_url}/online/link",
                        params={"ticket": c.ticket, "day": c.ticket_day},
                        headers=auth,
                    ),
                    attempts,
                )
                if r.status_code != 200:
                    _refused(stats, f"link {r.status_code}")
                    continue
                url = str(r.json()["url"])
                stats["links_from_gateway"] += 1
            r = _retry(lambda url=url, c=c: client.post(url, data=c.form()), attempts)
            if r.status_code != 303:
                _refused(stats, f"rate {r.status_code}")
                continue
            stats["submitted"] += 1
            page = client.get(httpx.URL(url).join(r.headers["location"]))
            if page.status_code == 200 and "已评价" in page.text:
                stats["thanked"] += 1
    return stats


def _retry(call: Any, attempts: int) -> httpx.Response:
    """A request, again after a connection error or a 5xx (the server may be restarting)."""
    for i in range(attempts):
        try:
            r: httpx.Response = call()
            if r.status_code < 500 or i == attempts - 1:
                return r
        except httpx.HTTPError:
            if i == attempts - 1:
                raise
        time.sleep(0.5 * (i + 1))
    raise AssertionError("unreachable")


def _refused(stats: dict[str, Any], what: str) -> None:
    stats["refused"][what] = stats["refused"].get(what, 0) + 1
