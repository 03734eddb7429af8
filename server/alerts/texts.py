"""The texts of an alert, Chinese first with English alongside (docs/cases.md "Alerts")."""

from __future__ import annotations

from server.online.texts import LEVEL_TEXT

# event -> (zh, en) prefix of the title.
EVENT_TEXT: dict[str, tuple[str, str]] = {
    "bad_rating": ("差评提醒", "Bad rating"),
    "yellow": ("即将到期", "Due soon"),
    "red": ("已超期", "Overdue"),
    "escalated": ("督办", "Escalated"),
}
KIND_TEXT: dict[str, tuple[str, str]] = {
    "bad_rating": ("差评", "bad rating"),
    "complaint": ("吐槽找茬", "complaint"),
    "cannot_do": ("办不成事", "cannot-do"),
}


def titles(
    event: str,
    *,
    kind: str,
    number: str,
    window: str,
    staff: str,
    level: str,
    ticket: str,
) -> tuple[str, str]:
    """(zh, en) title, e.g. "差评提醒: A03窗口 张三 不满意 (票号 A012)" or
    "即将到期: 吐槽找茬 TS202600003 A03窗口"."""
    head_zh, head_en = EVENT_TEXT[event]
    parts_zh: list[str] = []
    parts_en: list[str] = []
    if event != "bad_rating":
        kind_zh, kind_en = KIND_TEXT.get(kind, (kind, kind))
        parts_zh += [kind_zh, number]
        parts_en += [kind_en, number]
    if window:
        parts_zh.append(f"{window}窗口")
        parts_en.append(f"window {window}")
    if staff:
        parts_zh.append(staff)
        parts_en.append(staff)
    if event == "bad_rating" and level:
        zh, en = LEVEL_TEXT.get(level, (level, level))
        parts_zh.append(zh)
        parts_en.append(en.lower())
    title_zh = f"{head_zh}: {' '.join(parts_zh)}".rstrip(": ")
    title_en = f"{head_en}: {', '.join(parts_en)}".rstrip(": ")
    if event == "bad_rating" and ticket:
        title_zh += f" (票号 {ticket})"
        title_en += f" (ticket {ticket})"
    return title_zh, title_en


def bodies(
    event: str,
    *,
    hall: str,
    number: str,
    first_due: str,
    due: str,
    provisional: bool,
) -> tuple[str, str]:
    """(zh, en) body: the hall, the case number and its deadlines."""
    zh = [f"大厅 {hall}", f"案件编号 {number}"]
    en = [f"Hall {hall}", f"case {number}"]
    if first_due:
        zh.append(f"首步期限 {first_due}")
        en.append(f"first step due {first_due}")
    zh.append(f"办结期限 {due}" + ("（暂定）" if provisional else ""))
    en.append(f"due {due}" + (" (provisional)" if provisional else ""))
    if event == "bad_rating":
        zh.append("请及时回访并整改")
        en.append("please call back and rectify")
    elif event == "yellow":
        zh.append("期限将至，请及时办理")
        en.append("the deadline is near")
    elif event == "red":
        zh.append("已超过办理期限")
        en.append("the deadline has passed")
    else:
        zh.append("超期未办结，已督办")
        en.append("overdue and escalated")
    return "；".join(zh), "; ".join(en)
