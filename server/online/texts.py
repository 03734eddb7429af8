"""Every text of the rating pages, Chinese first, English second (docs/online-rating.md
"The rating page"). ``{name}`` placeholders are filled in after escaping."""

from __future__ import annotations

LEVEL_TEXT: dict[str, tuple[str, str]] = {
    "very_satisfied": ("非常满意", "Very satisfied"),
    "satisfied": ("满意", "Satisfied"),
    "basically_satisfied": ("基本满意", "Basically satisfied"),
    "dissatisfied": ("不满意", "Dissatisfied"),
    "very_dissatisfied": ("非常不满意", "Very dissatisfied"),
}

CHANNEL_TEXT: dict[str, tuple[str, str]] = {
    "evaluator": ("窗口评价器", "the counter rating device"),
    "ballot_box": ("投票箱", "the ballot box"),
    "sms": ("短信", "SMS"),
    "phone": ("电话回访", "a phone call-back"),
    "online": ("网上评价", "this page"),
    "system_default": ("默认评价", "the system default"),
}

TEXT: dict[str, tuple[str, str]] = {
    "brand": ("政务服务“好差评”", "Government service rating"),
    "switch": ("English", "中文"),
    "title_rate": ("服务评价", "Rate the service"),
    "hall": ("大厅", "Hall"),
    "window": ("窗口", "Window"),
    "date": ("办理日期", "Date"),
    "matter": ("办理事项", "Matter"),
    "ticket": ("取号单", "Ticket"),
    "levels": ("请您对本次服务作出评价", "How was the service?"),
    "reasons": ("如不满意，请选择原因（可多选）", "If dissatisfied, please choose the reasons"),
    "comment": ("意见建议（选填，最多{max}字）", "Comments (optional, at most {max} characters)"),
    "submit": ("提交评价", "Submit"),
    "submit_followup": ("提交追评", "Submit follow-up"),
    "late": (
        "评价期限已过，现为补评期（至{day}），本次评价将标记为逾期评价。",
        "The rating period is over; until {day} a rating is still accepted, marked late.",
    ),
    "done": ("已评价", "Rated"),
    "thanks": ("感谢您的评价！", "Thank you for your rating!"),
    "your_rating": ("您的评价", "Your rating"),
    "rated_elsewhere": (
        "本次服务已通过{channel}评价。",
        "This service was rated through {channel}.",
    ),
    "your_reasons": ("不满意原因", "Reasons"),
    "your_comment": ("意见建议", "Comments"),
    "followup": ("追评", "Follow-up"),
    "your_followup": ("您的追评", "Your follow-up"),
    "followup_hint": (
        "如需补充，您可在 {day} 前追加一次评价（追评）。",
        "You may add one follow-up rating until {day}.",
    ),
    "no_more": ("本次服务的评价已完成。", "This service's rating is complete."),
    "title_window": ("窗口评价", "Rate a window"),
    "ask_ticket": ("请输入取号单上的号码", "Enter the number on your queue ticket"),
    "go": ("去评价", "Continue"),
    "back": ("返回评价页", "Back to the rating page"),
    "refused": ("无法评价", "Cannot rate"),
}

# Refusal pages: (title, message) per reason, Chinese and English.
REFUSAL_TEXT: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "malformed": (
        ("链接无效", "这不是有效的评价链接或二维码，请重新扫描取号单或窗口上的二维码。"),
        ("Invalid link", "This is not a valid rating link or QR code. Please scan the code again."),
    ),
    "unknown_key": (
        ("链接无效", "此链接不是本大厅签发的，或已失效。"),
        ("Invalid link", "This link was not issued by the hall, or is no longer valid."),
    ),
    "bad_signature": (
        ("链接无效", "此链接已被修改或伪造，无法评价。"),
        ("Invalid link", "This link has been altered or forged."),
    ),
    "wrong_hall": (
        ("链接与大厅不符", "此链接不属于该大厅，无法评价。"),
        ("Wrong hall", "This link belongs to another hall."),
    ),
    "wrong_window": (
        ("窗口不符", "该取号单不是在此窗口办理的，请扫描为您办理业务的窗口上的二维码。"),
        (
            "Wrong window",
            "This ticket was not served at this window. "
            "Please scan the code of the window that served you.",
        ),
    ),
    "not_finished": (
        ("未找到办结的取号单", "没有找到已办结的该号码取号单。业务办结后方可评价。"),
        (
            "Ticket not found",
            "No finished ticket with this number was found. You can rate once the service is done.",
        ),
    ),
    "already_rated": (
        ("已评价", "本次服务已评价，不能重复评价。"),
        ("Already rated", "This service has already been rated."),
    ),
    "expired": (
        ("评价已过期", "该取号单的评价期限已过。"),
        ("Rating period over", "The rating period for this ticket is over."),
    ),
    "invalid_form": (
        (
            "提交内容有误",
            "请选择一个评价等级；不满意原因须从列表中选择；意见建议不超过{max}字。",
        ),
        (
            "Please check the form",
            "Choose one level; reasons from the list only; comments of at most {max} characters.",
        ),
    ),
    "rate_limited": (
        ("操作过于频繁", "尝试次数过多，请稍后再试。"),
        ("Too many attempts", "Too many attempts. Please try again later."),
    ),
}


def t(key: str, lang: str) -> str:
    return TEXT[key][1 if lang == "en" else 0]
