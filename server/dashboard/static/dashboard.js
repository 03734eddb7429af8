// hallrate dashboard: log in, pick a hall and period, watch the score. Chinese first, English available.
"use strict";

const API = "/api/v1";
const REFRESH_MS = 5000;

const TEXT = {
  zh: {
    title: "政务服务大厅 群众满意度", logout: "退出", login: "管理员登录", username: "用户名", password: "密码",
    signin: "登录", hall: "大厅", period: "期间", weighted: "群众满意度", alt: "含“基本满意”口径",
    formula: "评价器满意率×30% + 短信评价满意率×30% + 电话回访满意率×40%", ranking: "窗口排名",
    rank: "名次", window: "窗口", name: "名称", score: "满意度", count: "评价数", flags: "提示",
    policy: "计分口径（产生本结果的策略）",
    footer: "hallrate · 数据每 5 秒刷新 · 被标记或剔除的评价不计入，单独列出",
    langButton: "English", updated: "更新于", noData: "暂无数据", missing: "缺少渠道：",
    renormalised: "缺少渠道，权重已按有数据的渠道重新分配", complete: "三个渠道均有数据",
    zero_filled: "缺少的渠道按 0% 计", none: "无法计算", belowMin: "样本不足", excluded: "剔除/标记（不计入）",
    total: "评价总数", satisfied: "满意次数", rate: "满意率", weight: "权重", loginFailed: "用户名或密码错误",
    on_site: "现场评价（评价器＋投票箱）", evaluator: "评价器", ballot_box: "投票箱", sms: "短信评价",
    phone: "电话回访", online: "网上评价", system_default: "默认评价",
    very_satisfied: "非常满意", satisfied_lv: "满意", basically_satisfied: "基本满意", dissatisfied: "不满意",
    very_dissatisfied: "非常不满意", sessionExpired: "登录已过期，请重新登录",
    smsPanel: "短信评价 SMS", smsSent: "发送", smsDelivered: "送达", smsReplied: "回复", smsReplyRate: "回复率",
    smsValidRate: "有效回复率", smsToday: "今日", smsPeriod: "本期",
    cbPanel: "电话回访 Phone call-backs", cbPlanned: "计划", cbReserves: "备用（已启用）", cbAttempted: "已拨打",
    cbCompleted: "有效", cbClosed: "已结束", cbOpen: "待拨打", cbOverdue: "逾期", cbRate: "指标", cbValue: "比率",
    cbFraction: "分子/分母", cbFormula: "公式", cbAgent: "回访员", cbAttempts: "拨打次数", cbFirst: "首次", cbLast: "最近",
    response_rate: "应答率", refusal_rate: "拒访率", contact_rate: "接触率", cbSatisfaction: "电话回访满意率",
    cbLegend: "I＝有效；R＝拒访；NC＝无人接听＋占线；O＝其他；NE（空号/停机、非本人、已回访）不计入分母。按每条回访的最终结果统计。",
    cbSatFormula: "满意（{levels}）÷ 电话回访评价数",
  },
  en: {
    title: "Service hall public satisfaction", logout: "Sign out", login: "Admin sign-in", username: "Username",
    password: "Password", signin: "Sign in", hall: "Hall", period: "Period", weighted: "Public satisfaction",
    alt: "Counting 'basically satisfied' too",
    formula: "evaluator rate×30% + SMS rate×30% + phone call-back rate×40%", ranking: "Window ranking",
    rank: "Rank", window: "Window", name: "Name", score: "Score", count: "Ratings", flags: "Notes",
    policy: "Scoring policy that produced this result",
    footer: "hallrate · refreshes every 5 s · flagged or excluded ratings are not counted and are listed apart",
    langButton: "中文", updated: "updated", noData: "no data", missing: "missing channels: ",
    renormalised: "channels missing: weights renormalised over channels with data",
    complete: "all three channels have data", zero_filled: "missing channels counted as 0%",
    none: "cannot be computed", belowMin: "sample too small", excluded: "flagged / excluded (not counted)",
    total: "total", satisfied: "satisfied", rate: "rate", weight: "weight", loginFailed: "wrong username or password",
    on_site: "On site (evaluator + ballot box)", evaluator: "Evaluator", ballot_box: "Ballot box", sms: "SMS",
    phone: "Phone call-back", online: "Online", system_default: "System default",
    very_satisfied: "very satisfied", satisfied_lv: "satisfied", basically_satisfied: "basically satisfied",
    dissatisfied: "dissatisfied", very_dissatisfied: "very dissatisfied",
    sessionExpired: "session expired, please sign in again",
    smsPanel: "SMS ratings (短信评价)", smsSent: "sent", smsDelivered: "delivered", smsReplied: "replied",
    smsReplyRate: "reply rate", smsValidRate: "valid-reply rate", smsToday: "today", smsPeriod: "period",
    cbPanel: "Phone call-backs (电话回访)", cbPlanned: "planned", cbReserves: "reserves (opened)", cbAttempted: "attempted",
    cbCompleted: "completed", cbClosed: "closed", cbOpen: "open", cbOverdue: "overdue", cbRate: "figure", cbValue: "rate",
    cbFraction: "numerator/denominator", cbFormula: "formula", cbAgent: "agent", cbAttempts: "attempts", cbFirst: "first",
    cbLast: "last", response_rate: "response rate", refusal_rate: "refusal rate", contact_rate: "contact rate",
    cbSatisfaction: "phone satisfaction (满意率)",
    cbLegend: "I = completed; R = refused; NC = no answer + busy; O = other; NE (invalid number, not the citizen, already called) is in no denominator. Each entry counts by its final outcome.",
    cbSatFormula: "satisfied ({levels}) ÷ phone evaluations",
  },
};
const LEVELS = ["very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"];

let lang = localStorage.getItem("hallrate.lang") || "zh";
let token = sessionStorage.getItem("hallrate.token");
let timer = null;

const $ = (sel) => document.querySelector(sel);
const t = (key) => (TEXT[lang][key] ?? key);
const levelName = (lv) => t(lv === "satisfied" ? "satisfied_lv" : lv);
const groupName = (name) => t(name);

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.title = `${t("title")} · hallrate`;
  $("#lang").textContent = t("langButton");
}

function today() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date());
}

function currentQuarter() {
  const [y, m] = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" })
    .format(new Date()).split("-");
  return `${y}Q${Math.floor((Number(m) - 1) / 3) + 1}`;
}

async function api(path) {
  const res = await fetch(API + path, { headers: { Authorization: `Bearer ${token}` } });
  if (res.status === 401) { signOut(t("sessionExpired")); throw new Error("unauthorised"); }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new Error(body.detail || `${res.status}`);
  }
  return res.json();
}

function signOut(message) {
  token = null;
  sessionStorage.removeItem("hallrate.token");
  clearInterval(timer);
  $("#board").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
}

async function signIn(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const res = await fetch(`${API}/auth/token`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
  });
  if (!res.ok) { $("#login-error").textContent = t("loginFailed"); return; }
  token = (await res.json()).access_token;
  sessionStorage.setItem("hallrate.token", token);
  await start();
}

const pct = (x) => (x && x.percent != null ? `${x.percent}%` : "—");

// Build DOM from data without HTML parsing: every string becomes a text node, so a hall or
// window name such as `<img onerror=...>` shows as text and never runs.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function renderGroups(result) {
  const box = $("#groups");
  box.replaceChildren();
  for (const g of result.groups) {
    if (g.weight && Number(g.weight.percent) === 0) continue;  // reported channels with no weight
    const levels = LEVELS.map((lv) => el("li", {}, `${levelName(lv)}: ${g.counts[lv] ?? 0}`));
    box.append(el("div", { className: `card group${g.has_data ? "" : " missing"}`, dataset: { group: g.name } },
      el("h3", {}, groupName(g.name)),
      el("div", { className: "rate" }, g.has_data ? pct(g.rate) : t("noData")),
      el("div", { className: "note" },
        `${t("satisfied")} ${g.satisfied} / ${t("total")} ${g.total} · ${t("weight")} ${pct(g.effective_weight)}`,
        g.below_min_sample ? [" · ", el("span", { className: "flag" }, t("belowMin"))] : null),
      el("ul", {}, levels)));
  }
  if (result.excluded && result.excluded.total) {
    box.append(el("div", { className: "card group" },
      el("h3", {}, t("excluded")), el("div", { className: "rate" }, result.excluded.total)));
  }
}

function renderRanking(data) {
  const body = $("#ranking tbody");
  body.replaceChildren();
  for (const item of data.items) {
    const notes = [...item.missing_groups.map((g) => `${t("missing")}${groupName(g)}`),
                   ...item.below_min_sample.map((g) => `${groupName(g)} ${t("belowMin")}`)];
    body.append(el("tr", {},
      el("td", {}, item.rank ?? "—"), el("td", {}, item.code), el("td", {}, item.name || ""),
      el("td", {}, pct(item.score)), el("td", { className: "num" }, item.counted_total),
      el("td", { className: "flag" }, notes.join("；"))));
  }
}

// The SMS panel (GET /sms/stats): today's and the period's figures, and one row per window.
function smsCells(f) {
  return [f.sent, f.delivered, f.replied].map((n) => el("td", { className: "num" }, n))
    .concat([el("td", { className: "num" }, pct(f.reply_rate)), el("td", { className: "num" }, pct(f.valid_reply_rate))]);
}

async function refreshSms(hall, period) {
  const q = `hall=${encodeURIComponent(hall)}`;
  const [day, span] = await Promise.all([
    api(`/sms/stats?${q}&period=${today()}`),
    api(`/sms/stats?${q}&period=${encodeURIComponent(period)}&by=window`),
  ]);
  $("#sms-summary tbody").replaceChildren(
    el("tr", { dataset: { bucket: "today" } }, el("th", {}, t("smsToday")), smsCells(day.total)),
    el("tr", { dataset: { bucket: "period" } }, el("th", {}, `${t("smsPeriod")} ${span.period.label}`), smsCells(span.total)));
  $("#sms-windows tbody").replaceChildren(...span.items.map((item) =>
    el("tr", { dataset: { window: item.window ?? "" } }, el("td", {}, item.window ?? "—"), smsCells(item))));
}

// The phone call-back panel (GET /callbacks/stats): entry counts, the three rates with their
// formulas (cell text and tooltip), the phone 满意率 as /scores computes it, and the agents.
const CB_RATES = ["response_rate", "refusal_rate", "contact_rate"];
const num = (n) => el("td", { className: "num" }, n);
const clock = (iso) => new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { timeZone: "Asia/Shanghai" });

async function refreshCallbacks(hall, period) {
  const s = await api(`/callbacks/stats?hall=${encodeURIComponent(hall)}&period=${encodeURIComponent(period)}`);
  $("#cb-summary tbody").replaceChildren(el("tr", { dataset: { bucket: "period" } },
    num(s.planned), num(`${s.reserves} (${s.activated_reserves})`), num(s.attempted), num(s.completed),
    num(s.closed), num(s.open), num(s.overdue)));
  const legend = t("cbLegend");
  const rows = CB_RATES.map((name) => {
    const r = s.rates[name];
    return el("tr", { dataset: { rate: name }, title: `${r.formula} — ${legend}` },
      el("th", {}, t(name)), num(pct(r.rate)), num(`${r.numerator}/${r.denominator}`),
      el("td", { className: "formula" }, r.formula));
  });
  const sat = s.satisfaction;
  const levels = sat.satisfied_levels.map(levelName).join("、");
  const satFormula = t("cbSatFormula").replace("{levels}", levels);
  rows.push(el("tr", { dataset: { rate: "satisfaction" }, title: satFormula },
    el("th", {}, t("cbSatisfaction")), num(pct(sat.rate)), num(`${sat.satisfied}/${sat.total}`),
    el("td", { className: "formula" }, satFormula,
      sat.below_min_sample ? [" · ", el("span", { className: "flag" }, t("belowMin"))] : null)));
  $("#cb-rates tbody").replaceChildren(...rows);
  $("#cb-legend").textContent = legend;
  $("#cb-agents tbody").replaceChildren(...s.agents.map((a) =>
    el("tr", { dataset: { agent: a.username } }, el("td", {}, a.username), num(a.attempts), num(a.completed),
      el("td", {}, clock(a.first_at)), el("td", {}, clock(a.last_at)))));
}

async function refresh() {
  const hall = $("#hall").value;
  const period = $("#period").value.trim() || currentQuarter();
  const q = `hall=${encodeURIComponent(hall)}&period=${encodeURIComponent(period)}`;
  try {
    const [score, ranking] = await Promise.all([api(`/scores?${q}`), api(`/rankings?by=window&${q}`)]);
    const r = score.result;
    $("#score").textContent = pct(r.score);
    $("#alt-score").textContent = pct(r.alt_score);
    $("#basis").textContent = r.missing_groups.length
      ? `${t(r.score.basis)} (${t("missing")}${r.missing_groups.map(groupName).join("、")})`
      : t(r.score.basis);
    renderGroups(r);
    renderRanking(ranking);
    await refreshSms(hall, period);
    await refreshCallbacks(hall, period);
    await refreshDevices(hall);  // devices.js
    $("#policy").textContent = JSON.stringify(r.policy, null, 2);
    $("#updated").textContent = `${t("updated")} ${new Date().toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB")}`;
  } catch (err) {
    $("#updated").textContent = String(err.message || err);
  }
}

async function start() {
  const halls = await api("/halls");
  const select = $("#hall");
  select.replaceChildren(...halls.map((h) => el("option", { value: h.code }, `${h.name || h.code} (${h.code})`)));
  if (!$("#period").value) $("#period").value = currentQuarter();
  $("#login").hidden = true;
  $("#board").hidden = false;
  $("#logout").hidden = false;
  await refresh();
  clearInterval(timer);
  timer = setInterval(refresh, REFRESH_MS);
}

$("#lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("hallrate.lang", lang);
  applyLanguage();
  if (token) refresh();
});
$("#logout").addEventListener("click", () => signOut());
$("#login").addEventListener("submit", signIn);
$("#filters").addEventListener("change", refresh);
$("#filters").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });

applyLanguage();
if (token) start().catch(() => signOut()); else signOut();
