// hallrate call-back agent's page (回访员工作台): the queue, one entry, the call form, all by keyboard.
// Chinese first, English available. Every string from the API goes into the page as a text node.
"use strict";

const API = "/api/v1";

// TEXT (the words, zh and en) comes from agent-text.js, loaded first.
// Used until GET /callbacks/dispositions answers (and if it cannot be read).
const LEVELS = [
  { code: "very_satisfied", zh: "非常满意", en: "very satisfied" },
  { code: "satisfied", zh: "满意", en: "satisfied" },
  { code: "basically_satisfied", zh: "基本满意", en: "basically satisfied" },
  { code: "dissatisfied", zh: "不满意", en: "dissatisfied" },
  { code: "very_dissatisfied", zh: "非常不满意", en: "very dissatisfied" },
];
const DISSATISFIED = ["dissatisfied", "very_dissatisfied"];
// The disposition keys (docs/phone-callbacks.md "The agent's page").
const DISPOSITION_KEYS = {
  completed: "d", no_answer: "n", busy: "b", refused: "r",
  invalid_number: "x", wrong_person: "w", already_called: "a", other: "o",
};
const KEYMAP = [
  ["j / ↓, k / ↑", "kMove"], ["Enter", "kOpen"], ["p", "kReveal"], ["1 2 3 4 5", "kLevel"],
  ...Object.entries(DISPOSITION_KEYS).map(([code, key]) => [key, "kDisposition", code]),
  ["c", "kReasons"], ["t", "kComment"], ["s", "kNext"], ["u", "kOptOut"], ["Ctrl+Enter", "kSubmit"],
  ["Esc", "kEsc"], ["g", "kRefresh"], ["l", "kLang"], ["?", "kHelp"], ["Shift+Q", "kSignOut"],
];

let lang = localStorage.getItem("hallrate.lang") || "zh";
let token = sessionStorage.getItem("hallrate.agent.token");
let meta = { dispositions: [], levels: LEVELS, reasons: [], dissatisfied: DISSATISFIED };
let queue = [];          // the entries of GET /callbacks/queue, in its order
let selected = 0;        // index in queue of the highlighted entry
let current = null;      // the opened entry (GET /callbacks/entries/{id})
let phone = null;        // the revealed number of the opened entry
let pendingKey = null;   // the attempt_key of a submission whose answer never arrived
let busy = false;

const $ = (sel) => document.querySelector(sel);
const t = (key) => (TEXT[lang][key] ?? key);
const label = (item) => (item ? item[lang] || item.zh || item.code : "");

// Build DOM from data without HTML parsing: every string becomes a text node.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "attrs") for (const [a, v] of Object.entries(value)) node.setAttribute(a, v);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB",
    { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}

function say(message) { $("#status").textContent = message || ""; }

class ApiError extends Error {}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(API + path, {
    method: options.method || "GET", headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (res.status === 401) { signOut(t("sessionExpired")); throw new ApiError(t("sessionExpired")); }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? res.status);
    throw new ApiError(`${res.status}: ${detail}`);
  }
  return body;
}

// ---- language and static text ----------------------------------------------------------------

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  document.title = `${t("title")} · hallrate`;
  $("#lang-name").textContent = t("langName");
  renderKeymap();
  renderChoices();
  renderQueue();
  if (current) renderEntry();
}

function dispositionLabel(code) {
  return label(meta.dispositions.find((d) => d.code === code)) || code;
}

// The "?" overlay (a table) and the help line at the foot of the page, from KEYMAP.
function renderKeymap() {
  const action = ([, name, code]) => t(name) + (code ? dispositionLabel(code) : "");
  $("#keymap tbody").replaceChildren(...KEYMAP.map((row) =>
    el("tr", {}, el("td", {}, el("kbd", {}, row[0])), el("td", {}, action(row)))));
  $("#keyline").replaceChildren(...KEYMAP.flatMap((row, i) =>
    [i ? " · " : "", el("kbd", {}, row[0]), " ", row[2] ? dispositionLabel(row[2]) : t(row[1])]));
}

// The level radios, the 差评 reasons and the disposition radios, from GET /callbacks/dispositions.
function renderChoices() {
  const checked = (name) => document.querySelector(`#call input[name=${name}]:checked`)?.value;
  const level = checked("level");
  const disposition = checked("disposition");
  const ticked = new Set([...document.querySelectorAll("#reasons input:checked")].map((c) => c.value));
  const radio = (name, code, key, text) => el("label", { className: "choice" },
    el("input", { type: "radio", name, value: code, checked: code === level || code === disposition,
      id: `${name}-${code}`, attrs: { "aria-keyshortcuts": key } }),
    el("kbd", {}, key), " ", text);
  $("#levels").replaceChildren($("#levels legend"),
    ...meta.levels.map((lv, i) => radio("level", lv.code, String(i + 1), label(lv))));
  $("#dispositions").replaceChildren($("#dispositions legend"),
    ...meta.dispositions.filter((d) => DISPOSITION_KEYS[d.code])
      .map((d) => radio("disposition", d.code, DISPOSITION_KEYS[d.code], label(d))));
  $("#reasons").replaceChildren($("#reasons legend"), ...meta.reasons.map((reason, i) =>
    el("label", { className: "choice" },
      el("input", { type: "checkbox", name: "reason", value: reason, id: `reason-${i}`, checked: ticked.has(reason) }),
      " ", reason)));
  showReasons();
}

function showReasons() {
  const level = document.querySelector("#call input[name=level]:checked")?.value;
  $("#reasons").hidden = !meta.reasons.length || !meta.dissatisfied.includes(level);
}

// ---- sign-in ----------------------------------------------------------------------------------

function signOut(message) {
  token = null;
  sessionStorage.removeItem("hallrate.agent.token");
  sessionStorage.removeItem("hallrate.agent.user");
  queue = []; current = null; phone = null; pendingKey = null;
  $("#desk").hidden = true;
  $("#logout").hidden = true;
  $("#who").textContent = "";
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
  say("");
  $("#username").focus();
}

async function signIn(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  let res;
  try {
    res = await fetch(`${API}/auth/token`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
    });
  } catch (err) { $("#login-error").textContent = String(err.message || err); return; }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    $("#login-error").textContent = res.status === 401 ? t("loginFailed") : `${res.status}: ${body.detail ?? ""}`;
    return;
  }
  token = (await res.json()).access_token;
  sessionStorage.setItem("hallrate.agent.token", token);
  $("#password").value = "";
  await start(String(form.get("username") || ""));
}

async function start(username) {
  $("#login").hidden = true;
  $("#desk").hidden = false;
  $("#logout").hidden = false;
  if (username) sessionStorage.setItem("hallrate.agent.user", username);
  $("#who").textContent = sessionStorage.getItem("hallrate.agent.user") || "";
  try {
    const data = await api("/callbacks/dispositions");
    meta = {
      dispositions: data.dispositions || [],
      levels: data.levels && data.levels.length ? data.levels : LEVELS,
      reasons: data.reasons || [],
      dissatisfied: data.dissatisfied_levels || DISSATISFIED,
    };
  } catch (err) { say(String(err.message || err)); }
  renderChoices();
  renderKeymap();
  await loadQueue();
  $("#queue").focus();
}

// ---- the queue --------------------------------------------------------------------------------

async function loadQueue(preferId) {
  try {
    queue = (await api("/callbacks/queue")).items || [];
  } catch (err) { say(String(err.message || err)); return; }
  const at = queue.findIndex((e) => e.id === preferId);
  selected = at >= 0 ? at : Math.min(selected, Math.max(queue.length - 1, 0));
  renderQueue();
}

function renderQueue() {
  const list = $("#queue");
  list.replaceChildren(...queue.map((e, i) => {
    const later = e.next_call_at && new Date(e.next_call_at) > new Date();
    return el("li", {
      id: `q-${e.id}`, className: `item${i === selected ? " selected" : ""}${e.overdue ? " overdue" : ""}`
        + `${current && current.id === e.id ? " open" : ""}${later ? " later" : ""}`,
      dataset: { entry: e.id, ticket: e.ticket ?? "" },
      attrs: { role: "option", "aria-selected": i === selected ? "true" : "false" },
    },
    el("span", { className: "q-ticket" }, e.ticket ?? "—"),
    e.reason === "dissatisfied" ? el("span", { className: "tag" }, t("dissatisfiedTag")) : null,
    el("span", { className: "q-matter" }, e.matter_name || e.matter || ""),
    el("span", { className: "q-meta" },
      `${t("due")} ${when(e.due_at)}`,
      e.overdue ? [" · ", el("strong", { className: "overdue" }, t("overdue"))] : null,
      ` · ${t("attemptsSoFar")} ${attemptCount(e)}/${e.max_attempts ?? "?"}`,
      later ? ` · ${t("retryAt")} ${when(e.next_call_at)}` : null));
  }));
  $("#queue-count").textContent = `(${queue.length})`;
  $("#queue-empty").hidden = queue.length > 0;
  if (queue[selected]) {
    list.setAttribute("aria-activedescendant", `q-${queue[selected].id}`);
    $(`#q-${queue[selected].id}`).scrollIntoView({ block: "nearest" });
  } else list.removeAttribute("aria-activedescendant");
}

function move(step) {
  if (!queue.length) return;
  selected = Math.max(0, Math.min(queue.length - 1, selected + step));
  renderQueue();
  $("#queue").focus();
}

// ---- one entry --------------------------------------------------------------------------------

async function openEntry(id) {
  if (id == null || busy) return;
  let entry;
  try { entry = await api(`/callbacks/entries/${encodeURIComponent(id)}`); }
  catch (err) { say(String(err.message || err)); return; }
  current = entry;
  phone = null;
  pendingKey = null;
  $("#call").reset();
  $("#call-error").textContent = "";
  renderEntry();
  renderQueue();
  $("#entry-title").focus();
}

function renderEntry() {
  const e = current;
  $("#entry-none").hidden = true;
  $("#entry").hidden = false;
  $("#entry").dataset.entry = e.id;
  $("#e-ticket").textContent = e.ticket ?? "—";
  $("#e-reason").textContent = e.reason === "dissatisfied" ? t("dissatisfiedTag")
    : e.reason === "sample" ? t("sampleTag") : t("servedTag");
  $("#e-reason").classList.toggle("bad", e.reason === "dissatisfied");
  $("#e-overdue").hidden = !e.overdue;
  $("#e-matter").textContent = [e.matter_name, e.matter ? `(${e.matter})` : ""].filter(Boolean).join(" ") || "—";
  $("#e-window").textContent = e.window ?? "—";
  $("#e-staff").textContent = [e.staff_name, e.staff ? `(${e.staff})` : ""].filter(Boolean).join(" ") || "—";
  $("#e-day").textContent = e.ticket_day ?? "—";
  $("#e-due").textContent = when(e.due_at);
  $("#e-attempts").textContent = `${attemptCount(e)} / ${e.max_attempts ?? "?"}`
    + (e.disposition ? ` · ${dispositionLabel(e.disposition)}` : "")
    + (e.next_call_at ? ` · ${t("retryAt")} ${when(e.next_call_at)}` : "");
  $("#phone-masked").textContent = phone ? "" : (e.phone_masked ?? "");
  const link = $("#phone-link");
  link.hidden = !phone;
  link.textContent = phone || "";
  if (phone) link.href = `tel:${phone.replace(/[^0-9+]/g, "")}`;
  else link.removeAttribute("href");
  $("#script").textContent = (lang === "en" ? e.script_en || e.script : e.script || e.script_en) || "";
  renderHistory(attemptRows(e));
}

// GET /callbacks/entries/{id} carries the attempts themselves; the queue only their number.
const attemptRows = (e) => (Array.isArray(e.attempts) ? e.attempts : e.attempt_list || []);
const attemptCount = (e) => (Array.isArray(e.attempts) ? e.attempts.length : e.attempts ?? 0);

function renderHistory(rows) {
  $("#history tbody").replaceChildren(...(rows.length ? rows.map((a) => el("tr", {},
    el("td", {}, when(a.at)), el("td", {}, a.username ?? ""), el("td", {}, dispositionLabel(a.disposition)),
    el("td", {}, a.level ? label(meta.levels.find((lv) => lv.code === a.level)) || a.level : ""),
    el("td", {}, (a.reasons || []).join("、")), el("td", {}, a.comment ?? "")))
    : [el("tr", {}, el("td", { colSpan: 6, className: "note" }, t("noAttempts")))]));
}

async function reveal() {
  if (!current || busy) return;
  if (phone) { $("#phone-link").focus(); return; }  // shown already: no second (audited) read
  try {
    const data = await api(`/callbacks/entries/${encodeURIComponent(current.id)}/reveal`, { method: "POST", body: {} });
    phone = String(data.phone ?? "");
    renderEntry();
    say(t("revealed"));
    $("#phone-link").focus();
  } catch (err) { $("#call-error").textContent = String(err.message || err); }
}

function newKey() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function formBody() {
  const value = (name) => document.querySelector(`#call input[name=${name}]:checked`)?.value;
  const disposition = value("disposition");
  if (!disposition) throw new ApiError(t("needDisposition"));
  const level = value("level");
  if (disposition === "completed" && !level) throw new ApiError(t("needLevel"));
  const body = { disposition, opt_out: $("#opt-out").checked };
  if (disposition === "completed") {
    body.level = level;
    const reasons = [...document.querySelectorAll("#reasons input:checked")].map((c) => c.value);
    if (!$("#reasons").hidden && reasons.length) body.reasons = reasons;
  }
  const comment = $("#comment").value.trim();
  if (comment) body.comment = comment;
  const next = $("#next-call").value;
  if (next) {  // the browser's local time, sent as UTC
    const at = new Date(next);
    if (Number.isNaN(at.getTime())) throw new ApiError(t("badTime"));
    body.next_call_at = at.toISOString();
  }
  return body;
}

async function submit(event) {
  if (event) event.preventDefault();
  if (!current || busy) return;
  const error = $("#call-error");
  let body;
  try { body = formBody(); } catch (err) { error.textContent = err.message; return; }
  // One key per submission; a retry after a lost answer reuses it, so the call is stored once.
  pendingKey = pendingKey || newKey();
  body.attempt_key = pendingKey;
  const id = current.id;
  busy = true;
  error.textContent = "";
  let result;
  try {
    result = await api(`/callbacks/entries/${encodeURIComponent(id)}/attempts`, { method: "POST", body });
  } catch (err) {
    // A refused request (4xx) stored nothing: the next submission gets a new key.
    if (err instanceof ApiError && !/^5\d\d:/.test(err.message)) pendingKey = null;
    error.textContent = err instanceof ApiError ? err.message : t("networkError");
    busy = false;
    return;
  }
  busy = false;
  pendingKey = null;
  const done = result.entry || {};
  say(`${t("submitted")}: ${t("ticket")} ${done.ticket ?? current.ticket ?? ""} · ${dispositionLabel(body.disposition)}`);
  const order = queue.map((e) => e.id);
  await loadQueue();
  // Open the entry that followed this one (still in the queue), else the first other one.
  const after = order.slice(order.indexOf(id) + 1).concat(order.slice(0, order.indexOf(id)));
  const dueNow = (e) => e && e.id !== id && !(e.next_call_at && new Date(e.next_call_at) > new Date());
  const next = after.map((x) => queue.find((e) => e.id === x)).find(dueNow) || queue.find(dueNow);
  if (next) {
    selected = queue.indexOf(next);
    await openEntry(next.id);
  } else {
    current = null;
    $("#entry").hidden = true;
    $("#entry-none").hidden = false;
    renderQueue();
    say(`${$("#status").textContent} · ${t("queueDone")}`);
    $("#queue").focus();
  }
}

// ---- keyboard ---------------------------------------------------------------------------------

function isTextField(node) {
  if (!node) return false;
  if (node.tagName === "TEXTAREA" || node.tagName === "SELECT") return true;
  return node.tagName === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(node.type);
}

function choose(name, value) {
  const input = document.getElementById(`${name}-${value}`);
  if (!input) return;
  input.checked = true;
  input.focus();
  showReasons();
}

function toggleHelp(show) {
  const help = $("#help");
  help.hidden = show === undefined ? !help.hidden : !show;
  if (!help.hidden) help.focus();
}

function onKey(event) {
  const target = event.target;
  if (!token) return;  // the sign-in form: plain Tab and Enter
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); submit(); return; }
  if (event.key === "Escape") {
    if (!$("#help").hidden) toggleHelp(false);
    else if (isTextField(target)) target.blur();
    (current ? $("#entry-title") : $("#queue")).focus();
    event.preventDefault();
    return;
  }
  if (isTextField(target) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (!$("#help").hidden && event.key !== "?") return;
  const key = event.key;
  const handled = () => event.preventDefault();
  if (key === "j" || key === "ArrowDown") { handled(); move(1); return; }
  if (key === "k" || key === "ArrowUp") { handled(); move(-1); return; }
  if (key === "Enter") {
    if (target === $("#queue") || target === document.body) { handled(); openEntry(queue[selected]?.id); }
    return;
  }
  if (key === "?") { handled(); toggleHelp(); return; }
  if (key === "Q") { handled(); signOut(); return; }
  if (key === "l") { handled(); $("#lang").click(); return; }
  if (key === "g") { handled(); loadQueue(current?.id); return; }
  if (!current) return;
  if (key >= "1" && key <= "5") { handled(); const lv = meta.levels[Number(key) - 1]; if (lv) choose("level", lv.code); return; }
  const code = Object.keys(DISPOSITION_KEYS).find((c) => DISPOSITION_KEYS[c] === key);
  if (code) { handled(); choose("disposition", code); return; }
  if (key === "p") { handled(); reveal(); return; }
  if (key === "t") { handled(); $("#comment").focus(); return; }
  if (key === "s") { handled(); $("#next-call").focus(); return; }
  if (key === "u") { handled(); $("#opt-out").checked = !$("#opt-out").checked; $("#opt-out").focus(); return; }
  if (key === "c") { handled(); if (!$("#reasons").hidden) $("#reasons input")?.focus(); }
}

document.addEventListener("keydown", onKey);
$("#lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("hallrate.lang", lang);
  applyLanguage();
});
$("#help-open").addEventListener("click", () => toggleHelp());
$("#logout").addEventListener("click", () => signOut());
$("#login").addEventListener("submit", signIn);
$("#call").addEventListener("submit", submit);
$("#call").addEventListener("change", showReasons);
$("#reveal").addEventListener("click", reveal);
$("#queue").addEventListener("click", (event) => {
  const item = event.target.closest("li[data-entry]");
  if (!item) return;
  selected = queue.findIndex((e) => String(e.id) === item.dataset.entry);
  openEntry(item.dataset.entry);
});

applyLanguage();
if (token) start().catch(() => signOut()); else signOut();
