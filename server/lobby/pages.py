"""The HTML of the lobby screen (docs/lobby.md "The page"): server-rendered with the data of
the moment, so it shows numbers before (and without) any script; /static/lobby/lobby.js then
polls the JSON endpoint. Every value from outside (hall, window and staff names) is escaped
here and, in the script, only ever set as text."""

from __future__ import annotations

from html import escape
from typing import Any

from server.lobby.texts import t

CSS_URL = "/static/lobby/lobby.css"
JS_URL = "/static/lobby/lobby.js"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _percent(score: dict[str, Any], lang: str) -> str:
    percent = score.get("percent")
    return f"{percent}%" if percent is not None else "—"


def _note(block: dict[str, Any], lang: str) -> str:
    parts = [t("ratings", lang, n=block["counted_total"])]
    if block["below_min_sample"]:
        parts.append(t("small", lang))
    if block["missing_groups"] and block["score"]["percent"] is not None:
        parts.append(t("missing", lang))
    return " · ".join(parts)


def _tile(ident: str, label: str, value: str, note: str) -> str:
    return (
        f'<section class="tile" id="{ident}">'
        f"<h2>{_e(label)}</h2>"
        f'<p class="big" id="{ident}-value">{_e(value)}</p>'
        f'<p class="note" id="{ident}-note">{_e(note)}</p></section>\n'
    )


def _row(item: dict[str, Any], by: str, lang: str) -> str:
    if by == "window":
        name = item.get("name")
        who = item["code"] + (f" {name}" if name and name != item["code"] else "")
    else:
        who = item["name"]
    flag = f'<span class="flag">{_e(t("small", lang))}</span>' if item["below_min_sample"] else ""
    rank = item["rank"] if item["rank"] is not None else "—"
    return (
        f'<tr><td class="rank">{_e(rank)}</td><td class="who">{_e(who)}</td>'
        f'<td class="score">{_e(_percent(item["score"], lang))}{flag}</td>'
        f'<td class="count">{_e(item["counted_total"])}</td></tr>'
    )


def _ranking(ranking: dict[str, Any], lang: str) -> str:
    by = ranking["by"]
    head = t("window", lang) if by == "window" else t("name", lang)
    rows = "".join(_row(item, by, lang) for item in ranking["items"])
    if not rows:
        rows = f'<tr class="empty"><td colspan="4">{_e(t("no_rows", lang))}</td></tr>'
    title = t("windows" if by == "window" else "staff", lang)
    return (
        f'<section class="ranking" id="{by}-ranking">'
        f'<h2>{_e(title)} <span class="period" id="{by}-period">'
        f"{_e(ranking['period']['label'])}</span></h2>"
        f'<table><thead><tr><th class="rank">{_e(t("rank", lang))}</th><th>{_e(head)}</th>'
        f'<th class="score">{_e(t("score", lang))}</th>'
        f'<th class="count">{_e(t("count", lang))}</th></tr></thead>'
        f'<tbody id="{by}-rows">{rows}</tbody></table></section>\n'
    )


def lobby_page(data: dict[str, Any], lang: str, api_url: str, switch_url: str) -> str:
    """The whole screen. ``api_url`` and ``switch_url`` are our own paths with the hall code
    quoted and the key (base64url) appended: still escaped, as attribute values."""
    refresh = int(data["refresh_seconds"])
    hall = data["hall"]
    texts = {
        "small": t("small", lang),
        "missing": t("missing", lang),
        "ratings": t("ratings", lang, n="{n}"),
        "reconnecting": t("reconnecting", lang),
        "no-rows": t("no_rows", lang),
    }
    data_attrs = "".join(f' data-t-{k}="{_e(v)}"' for k, v in texts.items())
    body = (
        _tile(
            "today",
            t("today", lang),
            _percent(data["today"]["score"], lang),
            _note(data["today"], lang),
        )
        + _tile(
            "quarter",
            t("quarter", lang),
            _percent(data["quarter"]["score"], lang),
            f"{data['quarter']['period']['label']} · {_note(data['quarter'], lang)}",
        )
        + _tile("votes", t("votes", lang), str(data["votes_today"]), t("votes_note", lang))
    )
    rankings = _ranking(data["windows"], lang)
    if data.get("staff") is not None:
        rankings += _ranking(data["staff"], lang)
    other = "zh" if lang == "en" else "en"
    footnote = t("footnote", lang, min=data["min_sample"], policy=data["policy"])
    return (
        "<!doctype html>\n"
        f'<html lang="{"en" if lang == "en" else "zh-CN"}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{_e(hall['name'])} · {_e(t('title', lang))}</title>\n"
        f'<link rel="stylesheet" href="{CSS_URL}">\n'
        # Without script the page reloads itself; with script lobby.js polls instead.
        f'<noscript><meta http-equiv="refresh" content="{refresh}"></noscript>\n'
        f'<script src="{JS_URL}" defer></script>\n</head>\n'
        f'<body data-api="{_e(api_url)}" data-refresh="{refresh}"{data_attrs}>\n'
        "<header>"
        f'<div class="titles"><h1 id="hall-name">{_e(hall["name"])}</h1>'
        f'<p class="brand">{_e(t("brand", lang))} · {_e(t("title", lang))}</p></div>'
        '<p class="status" id="status" role="status" aria-live="polite"></p>'
        f'<a class="lang" href="{_e(switch_url)}" hreflang="{other}">{_e(t("switch", lang))}</a>'
        "</header>\n"
        f'<main>\n<div class="tiles">\n{body}</div>\n<div class="rankings">\n{rankings}</div>\n'
        "</main>\n"
        f'<footer><span>{_e(t("as_of", lang))} <span id="as-of">{_e(data["as_of_local"])}</span>'
        f"</span><span>{_e(footnote)}</span></footer>\n"
        "</body>\n</html>\n"
    )


def error_page(title: str, message: str, lang: str) -> str:
    return (
        "<!doctype html>\n"
        f'<html lang="{"en" if lang == "en" else "zh-CN"}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{_e(title)}</title>\n"
        f'<link rel="stylesheet" href="{CSS_URL}">\n</head>\n'
        f'<body class="error"><main><h1>{_e(title)}</h1><p id="error">{_e(message)}</p></main>'
        "</body>\n</html>\n"
    )
