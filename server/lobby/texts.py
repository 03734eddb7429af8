"""Every text of the lobby screen, Chinese first, English second (docs/lobby.md)."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {
    "title": ("群众满意度", "Citizen satisfaction"),
    "brand": ("政务服务“好差评”", "Government service rating"),
    "switch": ("English", "中文"),
    "today": ("今日满意度", "Today's satisfaction"),
    "quarter": ("本季度满意度", "This quarter's satisfaction"),
    "votes": ("今日评价数", "Ratings today"),
    "votes_note": ("实时更新", "live"),
    "ratings": ("{n} 条评价", "{n} ratings"),
    "small": ("样本不足", "small sample"),
    "missing": ("部分渠道暂无数据", "some channels have no data yet"),
    "no_score": ("暂无评分", "no score yet"),
    "windows": ("窗口满意度排名", "Window ranking"),
    "staff": ("工作人员满意度排名", "Staff ranking"),
    "period_quarter": ("本季度", "this quarter"),
    "period_month": ("本月", "this month"),
    "period_today": ("今日", "today"),
    "rank": ("名次", "Rank"),
    "window": ("窗口", "Window"),
    "name": ("姓名", "Name"),
    "score": ("满意度", "Satisfaction"),
    "count": ("评价数", "Ratings"),
    "as_of": ("更新于", "Updated"),
    "footnote": (
        "评价少于 {min} 条的标注“样本不足”。评分规则：{policy}",
        "Fewer than {min} ratings: marked “small sample”. Scoring policy: {policy}",
    ),
    "reconnecting": ("重新连接中…", "Reconnecting…"),
    "no_rows": ("暂无数据", "No data yet"),
    "error_title": ("无法显示大屏", "The lobby screen cannot be shown"),
}

ERROR_TEXT: dict[str, tuple[str, str]] = {
    "off": (
        "本系统未开启大厅大屏（政策 [lobby] enabled = false）。",
        "the lobby screen is off ([lobby] enabled = false)",
    ),
    "no_key": (
        "大屏地址缺少显示密钥（?key=…）。请使用 hallrate lobby url --hall 大厅代码 给出的地址。",
        "this lobby screen URL has no display key (?key=…); use the URL that "
        "`hallrate lobby url --hall CODE` prints",
    ),
    "bad_key": (
        "显示密钥与该大厅不符，或已被更换。请使用 hallrate lobby url --hall 大厅代码 给出的地址。",
        "the display key does not match this hall, or has been revoked; use the URL that "
        "`hallrate lobby url --hall CODE` prints",
    ),
    "unknown_hall": ("没有代码为 {hall} 的大厅。", "unknown hall {hall!r}"),
}


def t(key: str, lang: str, **values: object) -> str:
    text = TEXT[key][1 if lang == "en" else 0]
    return text.format(**values) if values else text


def error_text(reason: str, lang: str, **values: object) -> str:
    text = ERROR_TEXT[reason][1 if lang == "en" else 0]
    return text.format(**values) if values else text
