// hallrate dashboard shell: sign-in, the language, the global filters and the router of the views
// (docs/dashboard.md). Loaded first; defines window.HALLRATE, which every view module uses to
// register itself (HALLRATE.views[name] = {title, render}). Chinese first, English available.
"use strict";

const API = "/api/v1";
const REFRESH_MS = 5000;

const TEXT = {
  zh: {
    title: "政务服务大厅 群众满意度", logout: "退出", login: "管理员登录", username: "用户名", password: "密码",
    signin: "登录", hall: "大厅", period: "期间", apply: "查询", weighted: "群众满意度", alt: "含“基本满意”口径",
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
    navOverview: "总览", navWindows: "窗口", navStaff: "人员", navBad: "差评", navChannels: "短信与回访",
    navDevices: "设备", navCases: "案件", navLabel: "视图", viewMissing: "此视图尚未提供",
    listSep: "；", enumSep: "、",
  },
  en: {
    title: "Service hall public satisfaction", logout: "Sign out", login: "Admin sign-in", username: "Username",
    password: "Password", signin: "Sign in", hall: "Hall", period: "Period", apply: "Show",
    weighted: "Public satisfaction", alt: "Counting 'basically satisfied' too",
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
    navOverview: "Overview", navWindows: "Windows", navStaff: "Staff", navBad: "Bad ratings (差评)",
    navChannels: "SMS & call-backs", navDevices: "Devices", navCases: "Cases", navLabel: "Views",
    viewMissing: "this view is not available yet", listSep: "; ", enumSep: ", ",
  },
};
const LEVELS = ["very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"];

let lang = localStorage.getItem("hallrate.lang") === "en" ? "en" : "zh";
let token = sessionStorage.getItem("hallrate.token");
let timer = null;

const $ = (sel) => document.querySelector(sel);
const t = (key) => (TEXT[lang][key] ?? TEXT.zh[key] ?? key);
const levelName = (lv) => t(lv === "satisfied" ? "satisfied_lv" : lv);
const groupName = (name) => t(name);
const pct = (x) => (x && x.percent != null ? `${x.percent}%` : "—");

// Add translations: {zh: {key: "…"}, en: {key: "…"}} or {key: {zh: "…", en: "…"}}.
function addText(dict) {
  if (dict.zh && typeof dict.zh === "object" && dict.en && typeof dict.en === "object") {
    Object.assign(TEXT.zh, dict.zh);
    Object.assign(TEXT.en, dict.en);
  } else {
    for (const [key, both] of Object.entries(dict)) {
      TEXT.zh[key] = both.zh;
      TEXT.en[key] = both.en ?? both.zh;
    }
  }
}

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  $("#lang").textContent = t("langButton");
  $("#lang").lang = lang === "zh" ? "en" : "zh-CN";  // its name is its text, in that language
  $("#nav").setAttribute("aria-label", t("navLabel"));
  const view = HALLRATE.views[HALLRATE.state.view];
  document.title = view && !$("#board").hidden ? `${t("title")} · ${t(view.title)} · hallrate` : `${t("title")} · hallrate`;
}

function localDate(parts) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date()).slice(0, parts);
}
const today = () => localDate(10);
const currentMonth = () => localDate(7);
function currentQuarter() {
  const [y, m] = currentMonth().split("-");
  return `${y}Q${Math.floor((Number(m) - 1) / 3) + 1}`;
}

// GETs under way, by path: parts of a view asking for the same answer at the same time share one
// request (the overview's headline and its quarter card both read /scores of the quarter).
const inFlight = new Map();
function api(path) {
  if (!inFlight.has(path)) {
    inFlight.set(path, fetchJson(path).finally(() => inFlight.delete(path)));
  }
  return inFlight.get(path);
}

async function fetchJson(path) {
  const res = await fetch(API + path, { headers: { Authorization: `Bearer ${token}` } });
  if (res.status === 401) { signOut(t("sessionExpired")); throw new Error("unauthorised"); }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? "");
    throw new Error(`${res.status} ${detail}`);
  }
  return res.json();
}

// Build DOM from data without HTML parsing: every string becomes a text node, so a hall or
// window name such as `<img onerror=...>` shows as text and never runs.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "attrs") for (const [a, v] of Object.entries(value)) node.setAttribute(a, String(v));
    else node[key] = value;
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const num = (n) => el("td", { className: "num" }, n);
const clock = (iso) => new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { timeZone: "Asia/Shanghai" });

// Replace a container's content only when its data (or the language) changed, so the 5-second
// refresh keeps open tables, hover and focus when nothing moved. Returns whether it rebuilt.
// A rebuild keeps what the user holds: the open data tables (<details data-keep>) stay open and
// the focus returns to the same control (a grain or sort button, a chart) in the new content.
function fill(node, data, build) {
  const sig = `${lang}|${JSON.stringify(data)}`;
  if (node.hallrateSig === sig) return false;
  node.hallrateSig = sig;
  const held = holding(node);
  node.replaceChildren(...[build(data)].flat(Infinity).filter((c) => c != null));
  restore(node, held);
  return true;
}

const FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";
// What identifies a control across a rebuild: its tag, id, data-*, link and chart.
const controlKey = (e) => JSON.stringify([e.tagName, e.id, { ...e.dataset }, e.getAttribute("href"),
  e.closest("[data-chart-id]")?.dataset.chartId ?? null]);

function holding(node) {
  const open = [...node.querySelectorAll("details[data-keep][open]")].map((d) => d.dataset.keep);
  const active = document.activeElement;
  if (!active || active === document.body || !node.contains(active)) return { open, focus: null };
  const index = [...node.querySelectorAll(FOCUSABLE)].indexOf(active);
  return { open, focus: { key: controlKey(active), index } };
}

function restore(node, held) {
  for (const details of node.querySelectorAll("details[data-keep]")) {
    if (held.open.includes(details.dataset.keep)) details.open = true;
  }
  if (!held.focus || (document.activeElement && document.activeElement !== document.body)) return;
  const all = [...node.querySelectorAll(FOCUSABLE)];
  const target = all.find((e) => controlKey(e) === held.focus.key) || all[Math.min(held.focus.index, all.length - 1)];
  if (target) target.focus({ preventScroll: true });
}

// ------------------------------------------------------------------ router (hash URL state)

const VIEW_NAMES = ["overview", "windows", "window", "staff", "bad", "channels", "devices", "cases"];
const NAV_OF = { window: "windows" };  // the nav link that is "current" for a detail view
const state = { view: "overview", arg: null, hall: null, period: null, params: new URLSearchParams(), lang };

// "#/window/A01?hall=H1&period=2026Q4" -> {view: "window", arg: "A01", params}
function parseHash(hash) {
  const raw = (hash || "").replace(/^#\/?/, "");
  const q = raw.indexOf("?");
  const params = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  const [head, ...rest] = (q < 0 ? raw : raw.slice(0, q)).split("/");
  let arg = null;
  try { arg = rest.length && rest.join("/") ? decodeURIComponent(rest.join("/")) : null; } catch { arg = null; }
  let view = VIEW_NAMES.includes(head) ? head : "overview";
  if (view === "windows" && arg != null) view = "window";
  if (view === "window" && arg == null) view = "windows";
  if (!["window", "staff"].includes(view)) arg = null;
  return { view, arg, params };
}

// The hash of a view: hall and period first, then the view's own parameters.
function href(view, arg, params) {
  const ordered = new URLSearchParams();
  for (const key of ["hall", "period"]) if (params.get(key)) ordered.set(key, params.get(key));
  for (const [key, value] of params) if (key !== "hall" && key !== "period" && value !== "") ordered.append(key, value);
  const path = arg != null && arg !== "" ? `${view}/${encodeURIComponent(arg)}` : view;
  const query = ordered.toString();
  return `#/${path}${query ? `?${query}` : ""}`;
}

// Params for going to `view`: the global filters always, the current view's own parameters only
// when staying on the same view, then `extra` (a null or "" value removes a parameter).
function paramsFor(view, arg, extra) {
  const same = view === state.view && (arg ?? null) === state.arg;
  const params = same ? new URLSearchParams(state.params) : new URLSearchParams();
  if (state.hall) params.set("hall", state.hall);
  if (state.period) params.set("period", state.period);
  for (const [key, value] of Object.entries(extra || {})) {
    if (value == null || value === "") params.delete(key); else params.set(key, String(value));
  }
  return params;
}

const linkTo = (view, arg, extra) => href(view, arg ?? null, paramsFor(view, arg ?? null, extra));

// Navigate: a new history entry (so the back button returns), then the hashchange renders.
function go(view, arg, extra) {
  const target = linkTo(view, arg, extra);
  if (target === location.hash) render(); else location.hash = target;
}

function sectionOf(view) { return document.querySelector(`section[data-view="${view}"]`); }

function showRoute(moved) {
  for (const section of document.querySelectorAll("section[data-view]")) {
    section.hidden = section.dataset.view !== state.view;
  }
  const current = NAV_OF[state.view] || state.view;
  for (const a of document.querySelectorAll("#nav a[data-nav]")) {
    a.href = linkTo(a.dataset.nav, null);
    if (a.dataset.nav === current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  $("#hall").value = state.hall;
  if ($("#hall").value !== state.hall) {  // a code the list does not have: show it, the API answers
    $("#hall").append(el("option", { value: state.hall }, state.hall));
    $("#hall").value = state.hall;
  }
  $("#period").value = state.period;
  $("#view-missing").hidden = Boolean(HALLRATE.views[state.view]);
  applyLanguage();
  if (moved) {
    const heading = sectionOf(state.view)?.querySelector(".view-title");
    if (heading) heading.focus({ preventScroll: true });
  }
}

// Read the hash into HALLRATE.state (missing filters: the previous ones, else the defaults;
// the hash is then completed in place), show the view and render it.
function route(userNav) {
  const next = parseHash(location.hash);
  const hall = next.params.get("hall") || state.hall || $("#hall").options[0]?.value || "";
  const period = next.params.get("period") || state.period || currentQuarter();
  next.params.set("hall", hall);
  next.params.set("period", period);
  const canonical = href(next.view, next.arg, next.params);
  if (canonical !== location.hash) history.replaceState(null, "", canonical);
  const moved = next.view !== state.view || next.arg !== state.arg;
  Object.assign(state, next, { hall, period, lang });
  showRoute(moved && userNav);
  return render();
}

// Renders run one at a time; calls during a render coalesce into one more run afterwards.
let running = null;
let again = false;
function render() {
  if (running) { again = true; return running; }
  running = (async () => {
    try {
      do { again = false; await renderNow(); } while (again);
    } finally { running = null; }
  })();
  return running;
}

async function renderNow() {
  if (!token) return;
  if (typeof refreshAlerts === "function") refreshAlerts(state.hall);  // alerts.js: the bell, on every view
  const view = HALLRATE.views[state.view];
  if (!view) return;
  try {
    await view.render(sectionOf(state.view), state);
    // The first view drawn with its data: the page is interactive (bench/dashboard_page.py).
    if (!performance.getEntriesByName("hallrate:interactive", "mark").length) {
      performance.mark("hallrate:interactive", { detail: { view: state.view } });
    }
    $("#updated").textContent = `${t("updated")} ${new Date().toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB")}`;
  } catch (err) {
    $("#updated").textContent = String(err.message || err);
  }
}

function tick() {
  const view = HALLRATE.views[state.view];
  if (view && view.live !== false) render();
}

// ------------------------------------------------------------------ sign-in

function signOut(message) {
  token = null;
  sessionStorage.removeItem("hallrate.token");
  clearInterval(timer);
  $("#board").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
  applyLanguage();
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

async function start() {
  const halls = await api("/halls");
  $("#hall").replaceChildren(...halls.map((h) => el("option", { value: h.code }, `${h.name || h.code} (${h.code})`)));
  $("#login").hidden = true;
  $("#board").hidden = false;
  $("#logout").hidden = false;
  clearInterval(timer);
  timer = setInterval(tick, REFRESH_MS);
  await route(false);
}

// A link of the former dashboard (`/dashboard/?dev_alarm=jam`): its parameters move into the hash.
function adoptSearch() {
  const search = new URLSearchParams(location.search);
  if (![...search.keys()].length) return;
  const current = parseHash(location.hash);
  for (const [key, value] of search) if (!current.params.has(key)) current.params.set(key, value);
  const devices = [...search.keys()].some((k) => k.startsWith("dev_"));
  const view = location.hash ? current.view : (devices ? "devices" : "overview");
  history.replaceState(null, "", location.pathname + href(view, current.arg, current.params));
}

const HALLRATE = {
  api, el, t, text: addText, pct, num, clock, fill, state, go, href: linkTo, views: {}, charts: {},
  levelName, groupName, LEVELS, today, currentMonth, currentQuarter, render,
  get lang() { return lang; },
};
window.HALLRATE = HALLRATE;

function boot() {
  adoptSearch();
  $("#lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    state.lang = lang;
    localStorage.setItem("hallrate.lang", lang);
    applyLanguage();
    if (token) render();
  });
  $("#logout").addEventListener("click", () => signOut());
  $("#login").addEventListener("submit", signIn);
  const fromFilters = () => {
    const period = $("#period").value.trim() || currentQuarter();
    Object.assign(state, { hall: $("#hall").value, period });
    go(state.view, state.arg, { hall: state.hall, period });
  };
  $("#filters").addEventListener("change", fromFilters);
  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); fromFilters(); });
  window.addEventListener("hashchange", () => { if (token) route(true); });
  let resized = null;  // charts are drawn for their box's width: redraw after a resize
  window.addEventListener("resize", () => { clearTimeout(resized); resized = setTimeout(() => { if (token) render(); }, 300); });
  applyLanguage();
  if (token) start().catch(() => signOut()); else signOut();
}

// Every view module is a classic script after this one: start once they have all registered.
document.addEventListener("DOMContentLoaded", boot);
