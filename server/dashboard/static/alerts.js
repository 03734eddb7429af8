// Dashboard notifications (docs/cases.md "Alerts"): the unread count on the bell and the list of
// unread alerts of the selected hall (GET /alerts?unread=1), each linking to its case page; mark
// one or all read. Every string from the server becomes a text node (el() of dashboard.js).
"use strict";

Object.assign(TEXT.zh, {
  alertsBell: "提醒", alertsTitle: "未读提醒", alertsNone: "暂无未读提醒", alertsRead: "已读",
  alertsReadAll: "全部已读", alertsOpen: "查看案件",
});
Object.assign(TEXT.en, {
  alertsBell: "Alerts", alertsTitle: "Unread alerts", alertsNone: "no unread alerts", alertsRead: "Mark read",
  alertsReadAll: "Mark all read", alertsOpen: "open the case",
});
applyLanguage();

const ALERTS_SHOWN = 20;
let alertsHall = null;

async function apiPost(path, body) {
  const res = await fetch(API + path, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  if (res.status === 401) { signOut(t("sessionExpired")); throw new Error("unauthorised"); }
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    throw new Error(data.detail || `${res.status}`);
  }
  return res.json();
}

function renderAlerts(data) {
  const count = $("#alerts-count");
  count.textContent = data.unread > 99 ? "99+" : String(data.unread);
  count.hidden = data.unread === 0;
  $("#alerts-bell").hidden = false;
  const items = data.items.map((a) => {
    const title = lang === "zh" ? a.title : (a.title_en || a.title);
    const body = lang === "zh" ? a.body : (a.body_en || a.body);
    const caseId = Number(a.case_id);
    const head = Number.isInteger(caseId) && caseId > 0
      ? el("a", { href: `/cases/${caseId}`, title: t("alertsOpen") }, title)
      : el("span", {}, title);
    return el("li", { dataset: { alert: String(a.id), event: a.event } },
      el("span", { className: `event ${a.event}` }), head,
      el("div", { className: "note" }, `${clock(a.created_at)} · ${body}`),
      el("button", { type: "button", className: "read", dataset: { read: String(a.id) } }, t("alertsRead")));
  });
  $("#alerts-list").replaceChildren(...items);
  $("#alerts-none").hidden = items.length > 0;
  $("#alerts-read-all").hidden = items.length === 0;
}

async function refreshAlerts(hall) {
  alertsHall = hall;
  try {
    renderAlerts(await api(`/alerts?unread=1&limit=${ALERTS_SHOWN}&hall=${encodeURIComponent(hall)}`));
  } catch (err) {
    $("#alerts-bell").hidden = true;  // a role without alerts, or the server is away
    $("#alerts").hidden = true;
  }
}

$("#alerts-bell").addEventListener("click", () => { $("#alerts").hidden = !$("#alerts").hidden; });
$("#alerts-list").addEventListener("click", async (event) => {
  const id = event.target.dataset && event.target.dataset.read;
  if (!id) return;
  await apiPost(`/alerts/${encodeURIComponent(id)}/read`).catch(() => {});
  await refreshAlerts(alertsHall);
});
$("#alerts-read-all").addEventListener("click", async () => {
  await apiPost("/alerts/read", { hall: alertsHall }).catch(() => {});
  await refreshAlerts(alertsHall);
});
