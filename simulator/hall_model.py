"""A seeded model of one service hall over a working day, as a time-ordered event script.

Staff log in, pause (离岗) and change shifts; citizens draw tickets (取号单), are called, served and
finished; some rate on the evaluator (some twice, some never), some drop their ticket into the
ballot box (some unreadable); those who did not rate on site get an SMS the same day, and a sample
gets a phone call-back the next day. Pure: the same HallSpec gives the same script, byte for byte.

Times are chosen so that the gateway's attribution rules (docs/gateway.md) have exactly one right
answer even with device clock skew up to ``MAX_SKEW_S``: a press lies well inside the rating window
after its finish and well before the window's next finish or pause.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from firmware import wire

LEVELS: tuple[str, ...] = tuple(wire.LEVELS)
BALLOT_SLOTS: tuple[str, ...] = tuple(wire.BALLOT_SLOTS)

# Device clocks may be off by this much (simulated seconds) under the clock-skew fault. Negative
# skew is bounded by the shortest press delay so a press never looks older than its finish.
MAX_SKEW_S = 20
MIN_SKEW_S = -4
MIN_PRESS_DELAY_S = 8
# A stray press (no request) is this far from any finish at its window, beyond the gateway's
# default rating window of 120 s plus skew.
STRAY_CLEARANCE_S = 200
# A drop comes after the ticket's presses (≤ 40 s after the finish), an SMS reply after the drops,
# each by more than the skew span: 一次一评's "earliest" has one answer with skewed clocks.
DROP_MIN_S = 90
SMS_MIN_S = 900

# 事项编码 examples: 行政区划-部门-类别-序号, the shape halls print on the ticket.
MATTERS: tuple[tuple[str, str], ...] = (
    ("A", "370602-001-XK-0001"),
    ("A", "370602-001-XK-0002"),
    ("A", "370602-003-XK-0011"),
    ("B", "370602-010-GG-0004"),
    ("B", "370602-010-GG-0007"),
    ("B", "370602-012-QT-0021"),
    ("C", "370602-020-XK-0102"),
    ("C", "370602-021-QR-0005"),
    ("D", "370602-030-GG-0031"),
    ("D", "370602-033-XK-0040"),
)

# Per-window rating behaviour: probabilities of the five levels (LEVELS order). Windows draw one
# profile; the "poor" and "bad" profiles make some windows visibly worse.
PROFILES: dict[str, tuple[float, float, float, float, float]] = {
    "excellent": (0.55, 0.35, 0.07, 0.02, 0.01),
    "good": (0.40, 0.40, 0.13, 0.05, 0.02),
    "fair": (0.25, 0.40, 0.20, 0.10, 0.05),
    "poor": (0.15, 0.30, 0.25, 0.20, 0.10),
    "bad": (0.08, 0.20, 0.22, 0.30, 0.20),
}


@dataclass(frozen=True)
class HallSpec:
    """Everything the script depends on. Same spec → same script."""

    windows: int = 5
    tickets: int = 500
    seed: int = 7
    day: date = date(2026, 11, 23)
    hall: str = "H1"
    tz: str = "Asia/Shanghai"
    open_at: time = time(9, 0)
    close_at: time = time(17, 0)
    ballot_boxes: int = 1
    # Windows A01..A0k whose evaluators run the real firmware: their presses wait for the rating
    # request, so the model gives them no pauses and no stray presses.
    firmware_windows: int = 0
    p_rate: tuple[float, float] = (0.55, 0.85)  # evaluator use, drawn per window in this range
    p_press_twice: float = 0.08
    p_stray: float = 0.3  # chance of a stray press in a long idle gap
    p_drop: float = 0.15
    p_drop_unreadable: float = 0.15
    p_drop_twice: float = 0.03
    p_sms_reply: float = 0.4
    p_phone_sample: float = 0.15
    p_phone_connected: float = 0.75
    p_recall: float = 0.04
    p_lunch_pause: float = 0.5
    p_shift_change: float = 0.3

    def window_codes(self) -> list[str]:
        return [f"A{i:02d}" for i in range(1, self.windows + 1)]

    def evaluator_id(self, window: str) -> str:
        return f"EV-{window}"

    def ballot_ids(self) -> list[str]:
        return [f"BB-{i:02d}" for i in range(1, self.ballot_boxes + 1)]

    def epoch(self, at: time, day: date | None = None) -> int:
        d = day or self.day
        return int(datetime.combine(d, at, ZoneInfo(self.tz)).timestamp())


@dataclass(frozen=True)
class WindowProfile:
    window: str
    profile: str
    levels: tuple[float, ...]
    p_rate: float
    firmware: bool

    def ballot_levels(self) -> tuple[float, float, float]:
        p = self.levels
        return (p[0] + p[1], p[2], p[3] + p[4])


@dataclass(frozen=True)
class Event:
    """One step of the script. ``t`` is the TRUE simulated time (epoch seconds)."""

    t: int
    kind: str  # queue | press | drop | sms | phone
    window: str | None = None
    ticket: str | None = None
    level: str | None = None  # press/drop/sms/phone level; None = no reply / not connected
    ev: str | None = None  # queue event name (wire.QUEUE_EVENTS)
    id: str | None = None  # queue event id, import record id
    staff: str | None = None
    matter: str | None = None
    device: str | None = None
    slot: int | None = None
    role: str | None = None  # press: first|again|stray; drop: first|again|unreadable
    phone: str | None = None  # queue finish: the citizen's phone (`ph`); sms: the reply's form
    # The ticket's own day (YYYY-MM-DD) when the rating names it (live SMS, live call-back,
    # online); None: the event's own hall-local day, as ingest fills it (docs/online-rating.md).
    ticket_day: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Script:
    spec: HallSpec
    profiles: dict[str, WindowProfile]
    events: list[Event] = field(default_factory=list)

    def of_kind(self, *kinds: str) -> list[Event]:
        return [e for e in self.events if e.kind in kinds]

    @property
    def start(self) -> int:
        return self.events[0].t if self.events else self.spec.epoch(self.spec.open_at)

    @property
    def end(self) -> int:
        return self.events[-1].t if self.events else self.start


@dataclass
class _Window:
    code: str
    profile: WindowProfile
    staff: str
    avail: int
    lunch_at: int | None
    shift_at: int | None
    next_staff: str | None
    last_finish: int | None = None


def _choice(rng: random.Random, weights: Sequence[float]) -> int:
    return rng.choices(range(len(weights)), weights=weights)[0]


def _profiles(spec: HallSpec, rng: random.Random) -> dict[str, WindowProfile]:
    names = list(PROFILES)
    out: dict[str, WindowProfile] = {}
    for i, w in enumerate(spec.window_codes()):
        # Every hall gets at least one clearly worse window, so rankings have something to show.
        name = "bad" if i == spec.windows - 1 and spec.windows > 1 else rng.choice(names)
        lo, hi = spec.p_rate
        out[w] = WindowProfile(
            w, name, PROFILES[name], round(rng.uniform(lo, hi), 3), i < spec.firmware_windows
        )
    return out


def build(spec: HallSpec) -> Script:
    """The whole day's script for ``spec``, sorted by time (ties keep generation order)."""
    rng = random.Random(spec.seed)
    profiles = _profiles(spec, rng)
    script = Script(spec, profiles)
    ev: list[Event] = []
    qn = [0]

    def qid() -> str:
        qn[0] += 1
        return f"q{spec.seed}-{spec.day:%Y%m%d}-{qn[0]:06d}"

    open_t = spec.epoch(spec.open_at)
    close_t = spec.epoch(spec.close_at)
    day_s = close_t - open_t
    # Service time so the day's tickets fit the windows, at most 6 minutes on average.
    cycle = day_s * spec.windows * 0.8 / max(spec.tickets, 1)
    service_mean = max(30.0, min(360.0, cycle - 50))

    windows: list[_Window] = []
    staff_no = 1000
    for code in spec.window_codes():
        prof = profiles[code]
        staff_no += 1
        quiet = prof.firmware
        lunch = None
        if not quiet and rng.random() < spec.p_lunch_pause:
            lunch = open_t + int(day_s * rng.uniform(0.35, 0.45))
        shift = None
        if rng.random() < spec.p_shift_change:
            shift = open_t + int(day_s * rng.uniform(0.5, 0.6))
        login_t = open_t - rng.randint(60, 600)
        windows.append(_Window(code, prof, str(staff_no), login_t + 30, lunch, shift, None))
        ev.append(Event(login_t, "queue", code, ev="login", id=qid(), staff=str(staff_no)))
    for w in windows:
        if w.shift_at is not None:
            staff_no += 1
            w.next_staff = str(staff_no)

    # Ticket numbers: category letter + 3 digits (4 beyond 999 a letter), counted per letter.
    per_letter: dict[str, int] = {}
    width = 3 if spec.tickets <= 999 * 4 else 4
    arrivals = sorted(open_t + int(rng.random() * day_s * 0.95) for _ in range(spec.tickets))
    heap = [(w.avail, i) for i, w in enumerate(windows)]
    heapq.heapify(heap)
    served: list[tuple[Event, Event]] = []  # (finish, call) per ticket
    rated: set[str] = set()
    # Rated on the real firmware, whose clock is the wall clock, not the script's: such a vote's
    # time and day are the run's, so its ticket gets no other rating 一次一评 would have to order.
    on_firmware: set[str] = set()

    for arrival in arrivals:
        letter, matter = MATTERS[rng.randrange(len(MATTERS))]
        per_letter[letter] = per_letter.get(letter, 0) + 1
        number = f"{letter}{per_letter[letter]:0{width}d}"
        avail, wi = heapq.heappop(heap)
        w = windows[wi]
        call_t = max(arrival + 15, avail)
        idle_from = avail
        # Lunch pause (离岗) and shift change happen between citizens, clear of any rating.
        if w.lunch_at is not None and call_t >= w.lunch_at:
            p_t = max(w.lunch_at, avail + 30)
            dur = rng.randint(1800, 3600)
            ev.append(Event(p_t, "queue", w.code, ev="pause", id=qid(), staff=w.staff))
            ev.append(Event(p_t + dur, "queue", w.code, ev="resume", id=qid(), staff=w.staff))
            w.lunch_at = None
            call_t = max(call_t, p_t + dur + 20)
            idle_from = p_t + dur + MAX_SKEW_S + 10
        if w.shift_at is not None and call_t >= w.shift_at and w.next_staff is not None:
            s_t = max(w.shift_at, avail + 30)
            ev.append(Event(s_t, "queue", w.code, ev="logout", id=qid(), staff=w.staff))
            ev.append(Event(s_t + 60, "queue", w.code, ev="login", id=qid(), staff=w.next_staff))
            w.staff = w.next_staff
            w.shift_at = None
            call_t = max(call_t, s_t + 90)
            idle_from = max(idle_from, s_t + 90)
        # A stray press in a long idle gap: nobody asked for a rating.
        if (
            not w.profile.firmware
            and w.last_finish is not None
            and call_t - idle_from >= 2 * STRAY_CLEARANCE_S
            and rng.random() < spec.p_stray
        ):
            st = max(idle_from, w.last_finish + STRAY_CLEARANCE_S)
            if st + STRAY_CLEARANCE_S // 2 < call_t:
                lv = LEVELS[rng.randrange(len(LEVELS))]
                ev.append(
                    Event(
                        st,
                        "press",
                        w.code,
                        level=lv,
                        device=spec.evaluator_id(w.code),
                        role="stray",
                    )
                )
        call = Event(
            call_t, "queue", w.code, number, ev="call", id=qid(), staff=w.staff, matter=matter
        )
        ev.append(call)
        start = call_t
        if rng.random() < spec.p_recall:
            start = call_t + 30
            ev.append(
                Event(
                    start,
                    "queue",
                    w.code,
                    number,
                    ev="recall",
                    id=qid(),
                    staff=w.staff,
                    matter=matter,
                )
            )
        service = max(30, int(rng.gauss(service_mean, service_mean * 0.35)))
        fin_t = start + service
        fin = Event(
            fin_t, "queue", w.code, number, ev="finish", id=qid(), staff=w.staff, matter=matter
        )
        ev.append(fin)
        served.append((fin, call))
        busy_until = fin_t + 10
        dev = spec.evaluator_id(w.code)
        if rng.random() < w.profile.p_rate:
            d1 = rng.randint(MIN_PRESS_DELAY_S, 40)
            lv = LEVELS[_choice(rng, w.profile.levels)]
            ev.append(
                Event(fin_t + d1, "press", w.code, number, lv, device=dev, role="first", id=fin.id)
            )
            rated.add(number)
            if w.profile.firmware:
                on_firmware.add(number)
            last = fin_t + d1
            if rng.random() < spec.p_press_twice:
                d2 = rng.randint(2, 8)
                lv2 = LEVELS[rng.randrange(len(LEVELS))]
                ev.append(
                    Event(
                        last + d2, "press", w.code, number, lv2, device=dev, role="again", id=fin.id
                    )
                )
                last += d2
            busy_until = max(busy_until, last + 5)
        w.last_finish = fin_t
        w.avail = busy_until
        heapq.heappush(heap, (busy_until, wi))

    for w in windows:
        ev.append(
            Event(max(w.avail + 60, close_t), "queue", w.code, ev="logout", id=qid(), staff=w.staff)
        )

    _ballots(spec, rng, profiles, served, ev, on_firmware)
    _sms_and_phone(spec, rng, profiles, served, rated, ev, on_firmware)
    script.events = sorted(ev, key=lambda e: e.t)
    return script


def _ballots(
    spec: HallSpec,
    rng: random.Random,
    profiles: dict[str, WindowProfile],
    served: list[tuple[Event, Event]],
    ev: list[Event],
    on_firmware: set[str],
) -> None:
    boxes = spec.ballot_ids()
    for fin, _call in served:
        if rng.random() >= spec.p_drop or fin.ticket in on_firmware:
            continue
        assert fin.window is not None
        slot = _choice(rng, profiles[fin.window].ballot_levels())
        box = boxes[rng.randrange(len(boxes))]
        # After every press (≤ 40 s) with room for clock skew, so 一次一评 has one answer.
        t = fin.t + rng.randint(DROP_MIN_S, 600)
        # Tickets are numbered per day: a drop after midnight could not find its ticket. A day
        # that overruns (a soak) keeps its drops before midnight, or has none for that ticket.
        midnight = _next_midnight(fin.t, spec.tz)
        if t >= midnight - 5:
            t = midnight - 5
            if t < fin.t + DROP_MIN_S:
                continue
        readable = rng.random() >= spec.p_drop_unreadable
        tk = fin.ticket if readable else None
        role = "first" if readable else "unreadable"
        ev.append(
            Event(
                t,
                "drop",
                fin.window if readable else None,
                tk,
                BALLOT_SLOTS[slot],
                device=box,
                slot=slot,
                role=role,
            )
        )
        if readable and rng.random() < spec.p_drop_twice:
            slot2 = rng.randrange(len(BALLOT_SLOTS))
            ev.append(
                Event(
                    min(t + rng.randint(5, 60), midnight - 1),
                    "drop",
                    fin.window,
                    tk,
                    BALLOT_SLOTS[slot2],
                    device=box,
                    slot=slot2,
                    role="again",
                )
            )


def _sms_and_phone(
    spec: HallSpec,
    rng: random.Random,
    profiles: dict[str, WindowProfile],
    served: list[tuple[Event, Event]],
    rated: set[str],
    ev: list[Event],
    on_firmware: set[str],
) -> None:
    tz = ZoneInfo(spec.tz)
    day_end = int(datetime.combine(spec.day, time(23, 0), tz).timestamp())
    next_day = spec.day + timedelta(days=1)
    n_sms = n_phone = 0
    for fin, _call in served:
        assert fin.window is not None and fin.ticket is not None
        levels = profiles[fin.window].levels
        # Seed 000: an SMS the same day to everyone who did not rate on the evaluator.
        if fin.ticket not in rated:
            n_sms += 1
            replied = rng.random() < spec.p_sms_reply
            lv = LEVELS[_choice(rng, levels)] if replied else None
            t = fin.t + rng.randint(SMS_MIN_S, 10800)
            if fin.t <= day_end < t:
                t = day_end
            ev.append(
                Event(
                    t,
                    "sms",
                    fin.window,
                    fin.ticket,
                    lv,
                    id=f"SMS{n_sms:07d}",
                    staff=fin.staff,
                    matter=fin.matter,
                )
            )
        if rng.random() < spec.p_phone_sample and fin.ticket not in on_firmware:
            n_phone += 1
            connected = rng.random() < spec.p_phone_connected
            lv = LEVELS[_choice(rng, levels)] if connected else None
            t = spec.epoch(time(10, 0), next_day) + rng.randint(0, 6 * 3600)
            ev.append(
                Event(
                    t,
                    "phone",
                    fin.window,
                    fin.ticket,
                    lv,
                    id=f"TEL{n_phone:07d}",
                    staff=fin.staff,
                    matter=fin.matter,
                )
            )


def _next_midnight(t: int, tz: str) -> int:
    local = datetime.fromtimestamp(t, ZoneInfo(tz))
    return int(
        datetime.combine(local.date() + timedelta(days=1), time(0), ZoneInfo(tz)).timestamp()
    )


def with_spec(spec: HallSpec, **changes: object) -> HallSpec:
    return replace(spec, **changes)  # type: ignore[arg-type]
