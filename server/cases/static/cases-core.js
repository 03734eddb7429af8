// hallrate case pages (docs/cases.md "Pages"): sign-in, language, the API, and which view to show.
// Chinese first, English available. Every string from the API goes into the page as a text node.
// WORDS (the words, zh and en, and the state machine's labels) comes from cases-text.js.
"use strict";

const API = "/api/v1";
const VIEWS = {};        // name -> { show(), relabel() }; filled by cases-list/case/new.js

let lang = localStorage.getItem("hallrate.lang") === "en" ? "en" : "zh";
let token = sessionStorage.getItem("hallrate.cases.token");
let me = JSON.parse(sessionStorage.getItem("hallrate.cases.me") || "null");
let halls = [];          // GET /halls: the halls this account sees
let departments = [];    // GET /departments: their departments (承办科室 / 转办部门)
let view = null;

const $ = (sel) => document.querySelector(sel);
const $$ = (sel) => [...document.querySelectorAll(sel)];
const L = () => (lang === "en" ? 1 : 0);
// t("count", {n: 3}): a page text with its {placeholders} filled (as text, never as HTML).
function t(key, vars) {
  const pair = WORDS.text[key];
  let out = pair ? pair[L()] : key;
  for (const [name, value] of Object.entries(vars || {})) out = out.replaceAll(`{${name}}`, String(value));
  return out;
}
// w("states", "closed"): a label from one of WORDS' tables, the code itself when unknown.
const w = (table, code) => (WORDS[table][code] ? WORDS[table][code][L()] : String(code ?? ""));
// A field's label, by kind where the seeds' forms name it differently (联系方式 / 联系电话).
const f = (name, kind) => w("fields", WORDS.fields[`${name}_${kind}`] ? `${name}_${kind}` : name);

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
  if (!iso) return t("none");
  return new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false,
  });
}

// A department's "code name" by its hall and code (the API names departments by code).
function deptName(hallId, code) {
  const d = departments.find((x) => x.hall_id === hallId && x.code === code);
  return d ? `${d.name}（${d.code}）` : code;
}

function say(message) { $("#status").textContent = message || ""; }

class ApiError extends Error {
  constructor(status, detail) { super(`${status}: ${detail}`); this.status = status; this.detail = detail; }
}

function detailText(body, status) {
  const d = body && body.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  return JSON.stringify(d ?? status);
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(API + path, {
    method: options.method || "GET", headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (res.status === 401) { signOut(t("sessionExpired")); throw new ApiError(401, t("sessionExpired")); }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, detailText(body, res.status));
  return body;
}

// A document behind the bearer token (PDF, XLSX): fetched, then saved under its own name.
async function download(link) {
  const res = await fetch(link.href, { headers: { Authorization: `Bearer ${token}` } });
  if (res.status === 401) { signOut(t("sessionExpired")); return; }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    say(`${res.status}: ${detailText(body, res.status)}`);
    return;
  }
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  // The server's file name (Content-Disposition filename*=UTF-8''…), else the URL's.
  const named = /filename\*=UTF-8''([^;]+)/i.exec(res.headers.get("Content-Disposition") || "");
  const name = decodeURIComponent(named ? named[1] : link.pathname.split("/").pop());
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  say(`${t("downloaded")}: ${a.download}`);
}

document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a.download");
  if (!link) return;
  event.preventDefault();
  download(link).catch((err) => say(String(err.message || err)));
});

// ---- language -------------------------------------------------------------------------------

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  $$("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  $$("[data-f]").forEach((node) => { node.textContent = w("fields", node.dataset.f); });
  $("#lang").textContent = t("langName");
  if (me) $("#who").textContent = `${me.username} · ${w("roles", me.role)}`;
  document.title = `${t("title")} · hallrate`;
  if (view && VIEWS[view].relabel) VIEWS[view].relabel();
}

$("#lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("hallrate.lang", lang);
  applyLanguage();
});

// ---- sign-in --------------------------------------------------------------------------------

const canAct = () => me && ["city_admin", "hall_admin", "handler"].includes(me.role);

function signOut(message) {
  token = null; me = null;
  sessionStorage.removeItem("hallrate.cases.token");
  sessionStorage.removeItem("hallrate.cases.me");
  $$("main > section").forEach((s) => { s.hidden = true; });
  $("#nav").hidden = true;
  $("#logout").hidden = true;
  $("#who").textContent = "";
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
  $("#username").focus();
}

$("#login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  let res;
  try {
    res = await fetch(`${API}/auth/token`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
    });
  } catch (err) { $("#login-error").textContent = String(err.message || err); return; }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    $("#login-error").textContent = res.status === 401 ? t("loginFailed") : `${res.status}: ${detailText(body)}`;
    return;
  }
  token = body.access_token;
  sessionStorage.setItem("hallrate.cases.token", token);
  $("#password").value = "";
  await start();
});

$("#logout").addEventListener("click", () => signOut(""));

async function start() {
  try {
    me = await api("/auth/me");
    halls = await api("/halls");
    departments = await api("/departments");
  } catch (err) {
    if (err.status !== 401) signOut(String(err.message || err));
    return;
  }
  sessionStorage.setItem("hallrate.cases.me", JSON.stringify(me));
  $("#login").hidden = true;
  $("#nav").hidden = false;
  $("#logout").hidden = false;
  $("#nav-complaint").hidden = !canAct();
  $("#nav-cannot-do").hidden = !canAct();
  const path = location.pathname;
  view = /^\/cases\/\d+$/.test(path) ? "case" : path.startsWith("/cases/new/") ? "new" : "list";
  $$("#nav a").forEach((a) => {
    if (a.getAttribute("href") === path) a.setAttribute("aria-current", "page");
  });
  applyLanguage();
  $(`#${view}-view`).hidden = false;
  await VIEWS[view].show();
}

// After every script has registered its view.
window.addEventListener("DOMContentLoaded", () => {
  applyLanguage();
  if (token) start(); else signOut("");
});
