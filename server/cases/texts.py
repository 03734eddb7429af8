"""Every word of the case pages (docs/cases.md "Pages"), Chinese first, English second.

The pages are static (server/cases/static); their words are served as one script built from
these tables and from server/cases/states.py (STATE_LABELS, ACTION_LABELS), so the state and
action names the pages show are the state machine's own."""

from __future__ import annotations

import json
from typing import Final

from server.cases.states import ACTION_LABELS, STATE_LABELS, can_close_at_once
from server.models.cases import CASE_CATEGORIES
from server.online.texts import LEVEL_TEXT

KIND_TEXT: Final[dict[str, tuple[str, str]]] = {
    "bad_rating": ("差评整改", "Bad rating follow-up"),
    "complaint": ("吐槽找茬", "Complaint (吐槽找茬)"),
    "cannot_do": ("办不成事", "Cannot get it done (办不成事)"),
}
# cannot_do 问题类型 and its 办理要求 (seed 003).
CATEGORY_TEXT: Final[dict[str, tuple[str, str]]] = {
    "simple": ("简单事项", "Simple"),
    "general": ("一般事项", "General"),
    "complex": ("复杂事项", "Complex"),
}
REQUIREMENT_TEXT: Final[dict[str, tuple[str, str]]] = {
    "simple": ("立即解决即时办结", "Solve at once"),
    "general": ("2个工作日办结", "Within 2 working days"),
    "complex": ("5个工作日办结", "Within 5 working days"),
}
ORIGIN_TEXT: Final[dict[str, tuple[str, str]]] = {
    "rating": ("差评", "a 差评 rating"),
    "appeal": ("申诉复核", "an appeal"),
    "manual": ("人工受理", "entered by staff"),
}
# Flags: always a colour AND these words (docs/cases.md "Deadlines").
FLAG_TEXT: Final[dict[str, tuple[str, str]]] = {
    "none": ("正常", "On time"),
    "yellow": ("黄牌·临期", "Yellow: due soon"),
    "red": ("红牌·逾期", "Red: overdue"),
    "escalated": ("督办", "Escalated (督办)"),
}
# Where a 差评 came from (a bad_rating case's channel).
CHANNEL_TEXT: Final[dict[str, tuple[str, str]]] = {
    "evaluator": ("评价器", "evaluator"),
    "ballot_box": ("投票箱", "ballot box"),
    "sms": ("短信评价", "SMS"),
    "phone": ("电话回访", "phone call-back"),
    "online": ("网上评价", "online"),
    "system_default": ("默认评价", "system default"),
}
FEEDBACK_TEXT: Final[dict[str, tuple[str, str]]] = {
    "satisfied": ("满意", "Satisfied"),
    "dissatisfied": ("不满意", "Dissatisfied"),
}
ROLE_TEXT: Final[dict[str, tuple[str, str]]] = {
    "city_admin": ("市级管理员", "City admin"),
    "hall_admin": ("大厅管理员", "Hall admin"),
    "handler": ("办理人员", "Case officer"),
    "viewer": ("查看人员", "Viewer"),
    "agent": ("回访员", "Call-back agent"),
    "system": ("系统", "System"),
}
# 事项来源 suggestions (free text up to 32 characters).
SOURCES: Final[tuple[tuple[str, str], ...]] = (
    ("现场", "in person"),
    ("电话", "phone"),
    ("网络", "online"),
    ("信件", "letter"),
    ("意见箱", "suggestion box"),
)
# The labels of a case's fields (API names), as the seeds' forms name them.
FIELD_TEXT: Final[dict[str, tuple[str, str]]] = {
    "number": ("编号", "Number"),
    "hall": ("大厅", "Hall"),
    "kind": ("类型", "Type"),
    "category": ("问题类型", "Problem type"),
    "requirement": ("办理要求", "Required"),
    "origin": ("来源", "Origin"),
    "state": ("状态", "State"),
    "flag": ("预警", "Flag"),
    "source": ("事项来源", "Source"),
    "citizen_name": ("诉求人", "Citizen"),
    "citizen_name_cannot_do": ("反映人", "Reported by"),
    "phone": ("联系方式", "Contact"),
    "phone_cannot_do": ("联系电话", "Phone"),
    "content": ("吐槽找茬内容", "Complaint"),
    "content_cannot_do": ("情况记录", "What happened"),
    "content_bad_rating": ("差评内容", "The rating"),
    "ticket": ("取号单", "Ticket"),
    "window": ("窗口", "Window"),
    "staff": ("工作人员", "Staff"),
    "department": ("涉及科室", "Department concerned"),
    "accepted_by": ("受理人员", "Accepted by"),
    "opened_at": ("受理时间", "Accepted at"),
    "assignee": ("承办科室", "Assigned to"),
    "assignee_cannot_do": ("承办单位", "Handled by"),
    "assignee_person": ("承办人", "Officer"),
    "transferred": ("处理方式", "How"),
    "opinion": ("责任科室（窗口）办理意见", "Office's opinion"),
    "opinion_cannot_do": ("窗口处理意见", "Window's opinion"),
    "reply": ("回复情况", "Reply"),
    "result": ("办理结果", "Result"),
    "rectification": ("整改措施", "Rectification"),
    "feedback": ("结果反馈", "Citizen's feedback"),
    "feedback_at": ("反馈时间", "Feedback at"),
    "called_back_at": ("回访时间", "Called back at"),
    "remarks": ("备注", "Remarks"),
    "first_due": ("承办时限", "First step due"),
    "first_due_bad_rating": ("回访时限", "Call-back due"),
    "due": ("处理时限", "Due"),
    "due_cannot_do": ("办结时限", "Due"),
    "due_bad_rating": ("整改时限", "Rectification due"),
    "extended_days": ("已延期（工作日）", "Extended (working days)"),
    "closed_at": ("实际办结时间", "Closed at"),
    "closed_on_time": ("按时办结", "Closed on time"),
    "today": ("日期", "Day"),
    "first_on_time": ("首步按时", "First step on time"),
}
TEXT: Final[dict[str, tuple[str, str]]] = {
    "title": ("案件办理", "Cases"),
    "brand": ("政务服务“好差评” · 案件办理", "Service hall cases"),
    "langName": ("English", "中文"),
    "logout": ("退出", "Sign out"),
    "login": ("工作人员登录", "Staff sign-in"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "signin": ("登录", "Sign in"),
    "loginFailed": ("用户名或密码错误", "wrong username or password"),
    "sessionExpired": ("登录已过期，请重新登录", "session expired, please sign in again"),
    "navList": ("案件列表", "Case list"),
    "navComplaint": ("受理吐槽找茬", "New complaint"),
    "navCannotDo": ("办不成事受理", "New 办不成事"),
    "ledger": ("下载台账（XLSX）", "Download the ledger (XLSX)"),
    "filters": ("筛选", "Filters"),
    "all": ("全部", "all"),
    "openOnly": ("未办结", "open"),
    "search": ("编号/取号单", "Number / ticket"),
    "apply": ("查询", "Search"),
    "reset": ("清除", "Clear"),
    "listEmpty": ("没有符合条件的案件", "No case matches"),
    "count": ("共 {n} 件", "{n} cases"),
    "more": ("加载更多", "Load more"),
    "loading": ("加载中…", "loading…"),
    "provisional": ("暂定", "provisional"),
    "provisionalNote": (
        "暂定：该年度节假日数据尚未发布，期限按周一至周五推算，数据发布后自动重算。",
        "Provisional: the year's holidays are not published yet; counted Monday to Friday "
        "and recomputed when the data arrives.",
    ),
    "transferredState": ("转办", "Transferred"),
    "ownOffice": ("承办（本大厅科室）", "Assign (a department of the hall)"),
    "outside": ("转办（其他单位）", "Transfer (another office)"),
    "chooseDepartment": ("请选择科室", "choose a department"),
    "otherOffice": ("其他单位名称", "Other office"),
    "deadlines": ("时限", "Deadlines"),
    "trail": ("办理记录", "Trail"),
    "at": ("时间", "Time"),
    "actor": ("操作人", "By"),
    "role": ("角色", "Role"),
    "action": ("操作", "Action"),
    "change": ("状态", "State"),
    "note": ("说明", "Note"),
    "details": ("内容", "Details"),
    "actions": ("办理", "Actions"),
    "noActions": ("当前没有可执行的操作", "No action is open to you"),
    "readOnly": ("您的账号为只读，不能办理案件。", "Your account is read-only."),
    "documents": ("文书", "Documents"),
    "form_chengban": ("承办单（PDF）", "承办单 (PDF)"),
    "form_shouli": ("受理单（PDF）", "受理单 (PDF)"),
    "form_zhuanban": ("转办单（PDF）", "转办单 (PDF)"),
    "ledgerNeedsHall": ("请先选择大厅再下载台账", "choose a hall to download its ledger"),
    "downloaded": ("已下载", "downloaded"),
    "submit": ("提交", "Submit"),
    "done": ("已保存", "saved"),
    "reason": ("理由", "Reason"),
    "days": ("延期天数（工作日）", "Working days to add"),
    "daysHint": ("每次最多 {max} 个工作日，最多 {n} 次", "at most {max} working days, {n} times"),
    "flagOn": ("预警", "Flag"),
    "back": ("返回列表", "Back to the list"),
    "newComplaint": ("吐槽找茬事项受理", "New complaint (吐槽找茬)"),
    "newCannotDo": ("“办不成事”登记窗口受理", "New 办不成事 case"),
    "hallPick": ("大厅", "Hall"),
    "windowCode": ("涉及窗口（选填）", "Window concerned (optional)"),
    "ticketOpt": ("取号单号（选填）", "Ticket (optional)"),
    "handling": ("窗口处理意见", "Window's decision"),
    "onTheSpot": ("当场答复", "Answered on the spot"),
    "transfer": ("转办", "Transfer"),
    "undertake": ("承办", "Assigned"),
    "otherRequirement": ("其他办理要求", "Other requirement"),
    "firstDone": ("首步完成日", "First step done on"),
    "onTheSpotText": ("当场答复情况", "The answer given"),
    "transferTo": ("转办部门", "Transfer to"),
    "open": ("受理", "Accept"),
    "opened": ("已受理：{number}", "accepted: {number}"),
    "required": ("必填", "required"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "forbidden": ("无权办理：{detail}", "Not allowed: {detail}"),
    "notFound": ("案件不存在或无权查看", "No such case, or not yours to see"),
    "stale": (
        "案件已被他人更新，页面已刷新，请核对后重新提交。",
        "Someone else changed the case; the page was reloaded, check and submit again.",
    ),
    "none": ("—", "—"),
    "reveal": ("显示号码", "Show the number"),
    "revealPurpose": ("案件办理联系当事人", "to contact the citizen about the case"),
    "phoneRead": ("查看号码", "Phone number read"),
}
# Per action: the hint shown above its form.
ACTION_HINT: Final[dict[str, tuple[str, str]]] = {
    "assign": ("承办：交本大厅科室办理；转办：交其他单位办理。", "Assign or transfer the case."),
    "start": ("承办科室开始办理。", "The office starts handling the case."),
    "return": ("退回重新分派，须写明理由。", "Send back to be assigned again; give a reason."),
    "reply": ("填写办理意见、回复情况或办理结果。", "The opinion, the reply or the result."),
    "callback": ("记录当事人对结果的反馈。", "Record the citizen's feedback."),
    "extend": ("延期须写明理由。", "An extension needs a reason."),
    "close": ("办结本案件。", "Close the case."),
    "note": ("只记入办理记录，不改变状态。", "Adds to the trail only."),
}


def script() -> str:
    """The pages' words as one script (``/cases/static/cases-text.js``)."""
    data = {
        "text": TEXT,
        "kinds": KIND_TEXT,
        "categories": CATEGORY_TEXT,
        "requirements": REQUIREMENT_TEXT,
        "origins": ORIGIN_TEXT,
        "flags": FLAG_TEXT,
        "feedback": FEEDBACK_TEXT,
        "roles": ROLE_TEXT,
        "sources": SOURCES,
        "fields": FIELD_TEXT,
        "states": STATE_LABELS,
        "actions": ACTION_LABELS,
        "hints": ACTION_HINT,
        "levels": LEVEL_TEXT,
        "channels": CHANNEL_TEXT,
        # The 办不成事 categories a 受理单 may answer on the spot (closed straight from 受理).
        "close_at_once": [c for c in CASE_CATEGORIES if can_close_at_once("cannot_do", c)],
    }
    # Insertion order is the pages' order (简单, 一般, 复杂; 正常, 黄牌, 红牌, 督办).
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    header = "// The case pages' words (server/cases/texts.py), Chinese first. Generated.\n"
    return f'{header}"use strict";\nconst WORDS = {body};\n'
