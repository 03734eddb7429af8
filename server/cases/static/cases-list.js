// The case list (/cases/): filters in the query string (a plain GET form), one row per case.
"use strict";

const LIST_FILTERS = ["hall", "kind", "state", "flag", "q"];
const PAGE_SIZE = 50;
let listItems = [];
let listTotal = 0;
let listCursor = null;  // the API's next_cursor: more cases after these

// The filter's choices: "" (all), then each code with its label.
function fillSelect(select, table, codes, value, firstKey = "all") {
  select.replaceChildren(el("option", { value: "" }, t(firstKey)),
    ...codes.map((code) => el("option", { value: code, selected: code === value }, w(table, code))));
  select.value = value || "";
}

function filterValues() {
  const q = new URLSearchParams(location.search);
  return Object.fromEntries(LIST_FILTERS.map((k) => [k, (q.get(k) || "").trim()]));
}

function renderFilters() {
  const v = filterValues();
  const hallSelect = $("#f-hall");
  hallSelect.replaceChildren(el("option", { value: "" }, t("all")),
    ...halls.map((h) => el("option", { value: h.code, selected: h.code === v.hall }, `${h.code} ${h.name}`)));
  hallSelect.closest("label").hidden = halls.length < 2;
  fillSelect($("#f-kind"), "kinds", Object.keys(WORDS.kinds), v.kind);
  // "open" (未办结) first, then each state with the state machine's label.
  const states = $("#f-state");
  fillSelect(states, "states", Object.keys(WORDS.states), v.state);
  states.insertBefore(el("option", { value: "open", selected: v.state === "open" }, t("openOnly")), states.options[1]);
  states.value = v.state || "";
  fillSelect($("#f-flag"), "flags", Object.keys(WORDS.flags), v.flag);
  $("#f-q").value = v.q;
  renderLedgerLink(v);
}

// The 台账 of one hall (the filter's, or the account's only one), of the filter's kind.
function renderLedgerLink(v) {
  const hall = v.hall || (halls.length === 1 ? halls[0].code : "");
  const link = $("#ledger");
  const q = new URLSearchParams();
  if (hall) q.set("hall", hall);
  if (v.kind) q.set("kind", v.kind);
  link.href = `${API}/cases/ledger.xlsx${q.toString() ? `?${q}` : ""}`;
  link.hidden = !hall;
  $("#ledger-hint").hidden = Boolean(hall);
}

function stateLabel(c) {
  return c.state === "assigned" && c.transferred ? t("transferredState") : w("states", c.state);
}

function flagBadge(flag) {
  return el("span", { className: `flag ${flag || "none"}`, dataset: { flag: flag || "none" } }, w("flags", flag || "none"));
}

function assigneeText(c) {
  const office = c.assignee_department ? deptName(c.hall_id, c.assignee_department) : c.assignee_office;
  return [office, c.assignee_person].filter(Boolean).join(" · ") || t("none");
}

function dueCell(day, provisional) {
  return el("td", {}, day || t("none"),
    day && provisional ? el("span", { className: "provisional", title: t("provisionalNote") }, `（${t("provisional")}）`) : null);
}

function renderRows() {
  $("#cases tbody").replaceChildren(...listItems.map((c) => el("tr", { dataset: { case: c.id, number: c.number } },
    el("td", {}, el("a", { href: `/cases/${encodeURIComponent(c.id)}` }, c.number)),
    el("td", {}, w("kinds", c.kind), c.category ? ` · ${w("categories", c.category)}` : ""),
    el("td", {}, el("span", { className: `state ${c.state}` }, stateLabel(c))),
    el("td", {}, flagBadge(c.flag)),
    el("td", {}, c.citizen_name || t("none")),
    el("td", {}, assigneeText(c)),
    el("td", {}, when(c.opened_at)),
    dueCell(c.due, c.provisional))));
  $("#list-empty").hidden = listItems.length > 0;
  $("#list-count").textContent = t("count", { n: listTotal });
  $("#more").hidden = !listCursor;
}

async function loadList(append) {
  const v = filterValues();
  const q = new URLSearchParams();
  for (const k of LIST_FILTERS) if (v[k] && k !== "state") q.set(k, v[k]);
  if (v.state === "open") q.set("open", "true");
  else if (v.state) q.set("state", v.state);
  q.set("limit", String(PAGE_SIZE));
  if (append && listCursor) q.set("cursor", listCursor);
  say(t("loading"));
  try {
    const page = await api(`/cases?${q}`);
    listItems = append ? listItems.concat(page.items) : page.items;
    listTotal = page.total;
    listCursor = page.next_cursor;
    renderRows();
    say("");
  } catch (err) { say(String(err.message || err)); }
}

$("#more").addEventListener("click", () => loadList(true));

VIEWS.list = {
  async show() {
    renderFilters();
    await loadList(false);
  },
  relabel() { renderFilters(); renderRows(); },
};
