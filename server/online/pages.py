"""The HTML of the rating pages (docs/online-rating.md "The rating page"): server-rendered,
Chinese by default, English with ``?lang=en``; plain forms, no script, one small stylesheet
served by the server. Every value from outside (hall, window and matter names, ticket numbers,
comments, reasons) is escaped here and nowhere else."""

from __future__ import annotations

from datetime import date
from html import escape

from server.models import Evaluation
from server.models.evaluations import LEVELS
from server.online.policy import OnlinePolicy
from server.online.service import BAD_LEVELS, RatingState, Target
from server.online.texts import CHANNEL_TEXT, LEVEL_TEXT, REFUSAL_TEXT, t

CSS_URL = "/static/online/online.css"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _i(lang: str) -> int:
    return 1 if lang == "en" else 0


def page(lang: str, title: str, body: str, path: str) -> str:
    """A whole page; ``path`` (already safe: our own routes) is where the language switch goes."""
    other = "zh" if lang == "en" else "en"
    return (
        "<!doctype html>\n"
        f'<html lang="{"en" if lang == "en" else "zh-CN"}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        f"<title>{_e(title)}</title>\n"
        f'<link rel="stylesheet" href="{CSS_URL}">\n</head>\n<body>\n'
        f'<header><span class="brand">{_e(t("brand", lang))}</span>'
        f'<a class="lang" href="{_e(path)}?lang={other}" hreflang="{other}">'
        f"{_e(t('switch', lang))}</a></header>\n"
        f"<main>\n{body}</main>\n</body>\n</html>\n"
    )


def _window_text(code: str, name: str) -> str:
    return f"{code} {name}" if name and name != code else code


def _facts(target: Target, lang: str) -> str:
    rows = [(t("hall", lang), target.hall_name)]
    if target.window:
        rows.append((t("window", lang), _window_text(target.window, target.window_name)))
    rows.append((t("date", lang), target.ticket_day.isoformat()))
    if target.matter:
        rows.append((t("matter", lang), target.matter_name or target.matter))
    rows.append((t("ticket", lang), target.ticket))
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return f'<section class="facts"><dl>{items}</dl></section>\n'


def _form(action: str, lang: str, step: str, policy: OnlinePolicy, note: str = "") -> str:
    i = _i(lang)
    levels = "".join(
        f'<label class="lv lv-{n}"><input type="radio" name="level" value="{level}" required>'
        f"<span>{_e(LEVEL_TEXT[level][i])}</span></label>"
        for n, level in enumerate(LEVELS, start=1)
    )
    reasons = "".join(
        f'<label class="rs"><input type="checkbox" name="reasons" value="{_e(r)}">'
        f"<span>{_e(r)}</span></label>"
        for r in policy.bad_reasons
    )
    comment = ""
    if policy.comment_max_chars > 0:
        limit = policy.comment_max_chars
        comment = (
            f'<label class="comment"><span>{_e(t("comment", lang).format(max=limit))}</span>'
            f'<textarea name="comment" rows="3" maxlength="{limit}"></textarea></label>'
        )
    button = t("submit_followup" if step == "followup" else "submit", lang)
    return (
        f'<form method="post" action="{_e(action)}" class="rate">'
        f'<input type="hidden" name="lang" value="{"en" if lang == "en" else "zh"}">'
        f'<input type="hidden" name="step" value="{step}">{note}'
        f'<fieldset class="levels"><legend>{_e(t("levels", lang))}</legend>{levels}</fieldset>'
        f'<fieldset class="reasons"><legend>{_e(t("reasons", lang))}</legend>{reasons}</fieldset>'
        f'{comment}<button type="submit">{_e(button)}</button></form>\n'
    )


def _rating(e: Evaluation, lang: str, heading: str) -> str:
    i = _i(lang)
    rows = [(heading, LEVEL_TEXT.get(e.level, (e.level, e.level))[i])]
    if e.level in BAD_LEVELS and e.reasons:
        rows.append((t("your_reasons", lang), "、".join(e.reasons.split(","))))
    if e.comment:
        rows.append((t("your_comment", lang), e.comment))
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def rating_page(
    target: Target,
    state: RatingState,
    late_until: date | None,
    today: date,
    policy: OnlinePolicy,
    token: str,
    lang: str,
) -> str:
    """The form, or 已评价 with what was given (and the 追评 form while one is allowed).
    ``late_until``: the late limit's last day when today is in it (a note on the form)."""
    path = f"/r/{token}"
    body = _facts(target, lang)
    if state.first is None:
        note = ""
        if late_until is not None:
            note = f'<p class="note">{_e(t("late", lang).format(day=late_until.isoformat()))}</p>'
        body += _form(path, lang, "first", policy, note)
        return page(lang, t("title_rate", lang), body, path)
    first = state.first
    done = f'<section class="done"><h1>{_e(t("done", lang))}</h1>'
    if first.channel == "online":
        done += f"<p>{_e(t('thanks', lang))}</p>"
    else:
        channel = CHANNEL_TEXT.get(first.channel, (first.channel, first.channel))[_i(lang)]
        done += f"<p>{_e(t('rated_elsewhere', lang).format(channel=channel))}</p>"
    done += _rating(first, lang, t("your_rating", lang))
    if state.followup is not None:
        done += _rating(state.followup, lang, t("your_followup", lang))
    done += "</section>\n"
    body += done
    if state.followup_open(today) and state.followup_until is not None:
        hint = t("followup_hint", lang).format(day=state.followup_until.isoformat())
        body += (
            f'<section class="followup"><h2>{_e(t("followup", lang))}</h2>'
            f"<p>{_e(hint)}</p>{_form(path, lang, 'followup', policy)}</section>\n"
        )
    else:
        body += f'<p class="note">{_e(t("no_more", lang))}</p>\n'
    return page(lang, t("done", lang), body, path)


def refusal_page(reason: str, lang: str, path: str, back: str | None, policy: OnlinePolicy) -> str:
    """The page of a refused attempt: what happened in plain words; ``back`` (our own path)
    links to the page the citizen came from when there is one to go back to."""
    title, message = REFUSAL_TEXT[reason][_i(lang)]
    message = message.format(max=policy.comment_max_chars)
    body = f'<section class="refused r-{reason}"><h1>{_e(title)}</h1><p>{_e(message)}</p>'
    if back is not None:
        body += f'<p><a class="back" href="{_e(back)}">{_e(t("back", lang))}</a></p>'
    body += "</section>\n"
    return page(lang, title, body, path)


def window_page(hall_name: str, window: str, window_name: str, lang: str, path: str) -> str:
    """A window's static QR code page: asks for the ticket number."""
    facts = (
        f'<section class="facts"><dl><dt>{_e(t("hall", lang))}</dt><dd>{_e(hall_name)}</dd>'
        f"<dt>{_e(t('window', lang))}</dt><dd>{_e(_window_text(window, window_name))}</dd>"
        "</dl></section>\n"
    )
    form = (
        f'<form method="post" action="{_e(path)}" class="ticket">'
        f'<input type="hidden" name="lang" value="{"en" if lang == "en" else "zh"}">'
        f"<label><span>{_e(t('ask_ticket', lang))}</span>"
        '<input name="ticket" required maxlength="32" autocomplete="off"'
        ' autocapitalize="characters" spellcheck="false" pattern="[A-Za-z0-9_\\-]{1,32}"></label>'
        f'<button type="submit">{_e(t("go", lang))}</button></form>\n'
    )
    return page(lang, t("title_window", lang), facts + form, path)
