// One case (/cases/{id}): its fields by kind, deadlines, documents, trail, and the actions its
// state allows as forms (server/cases/states.py, through the API's allowed_actions).
"use strict";

let kase = null;  // GET /cases/{id}: the case with its trail
let revealed = null;  // { id, phone }: the number read through GET /cases/{id}/phone
// Who reads a case's phone number unmasked (the API checks again and records each read).
const PHONE_READERS = ["city_admin", "agent", "handler"];

// The fields shown, in the seeds' forms' order, per kind.
const FACTS = {
  complaint: ["hall", "source", "assignee", "assignee_person", "citizen_name", "phone", "accepted_by",
    "opened_at", "window", "ticket", "content", "opinion", "reply", "feedback", "remarks", "closed_at"],
  cannot_do: ["hall", "citizen_name", "phone", "accepted_by", "opened_at", "category", "requirement",
    "transferred", "assignee", "assignee_person", "window", "ticket", "content", "opinion", "result",
    "feedback", "feedback_at", "remarks", "closed_at"],
  bad_rating: ["hall", "origin", "window", "staff", "department", "ticket", "content", "assignee",
    "assignee_person", "called_back_at", "feedback", "reply", "rectification", "result", "remarks", "closed_at"],
};
const DATES = ["opened_at", "feedback_at", "called_back_at", "closed_at"];
// The seeds' forms a case prints (GET /cases/{id}/forms/{form}.pdf): 承办单 of a complaint;
// 受理单 of a 办不成事 case, and its 转办单 once transferred.
function caseDocs(c) {
  if (c.kind === "complaint") return ["chengban"];
  if (c.kind === "cannot_do") return c.transferred ? ["shouli", "zhuanban"] : ["shouli"];
  return [];
}
const REQUIREMENTS = { immediate: "simple", "2_days": "general", "5_days": "complex" };

function factValue(c, name) {
  if (name === "hall") return [c.hall, (halls.find((h) => h.id === c.hall_id) || {}).name].filter(Boolean).join(" ");
  if (name === "assignee") return c.assignee_department ? deptName(c.hall_id, c.assignee_department) : c.assignee_office;
  if (name === "category") return c.category ? w("categories", c.category) : "";
  if (name === "requirement") {
    if (c.requirement === "other") return c.requirement_other || "";
    return c.requirement ? w("requirements", REQUIREMENTS[c.requirement]) : c.category ? w("requirements", c.category) : "";
  }
  if (name === "transferred") {
    if (c.disposal === "answered") return t("onTheSpot");
    return c.disposal === "transfer" || c.transferred ? t("transfer") : "";
  }
  if (name === "origin") return w("origins", c.origin);
  if (name === "feedback") return c.feedback ? w("feedback", c.feedback) : "";
  if (name === "content" && c.kind === "bad_rating") {
    const rated = [c.level && w("levels", c.level), c.channel && w("channels", c.channel), c.rated_day]
      .filter(Boolean).join(" · ");
    return [rated, (c.reasons || []).join("、"), c.content].filter(Boolean).join("\n");
  }
  if (DATES.includes(name)) return c[name] ? when(c[name]) : "";
  return c[name] == null ? "" : String(c[name]);
}

function dueDd(day, provisional) {
  return el("dd", {}, day || t("none"), day && provisional
    ? el("span", { className: "provisional", dataset: { provisional: "1" } }, `（${t("provisional")}）`) : null);
}

function renderCase() {
  const c = kase;
  $("#c-number").textContent = c.number;
  $("#c-kind").textContent = w("kinds", c.kind) + (c.category ? ` · ${w("categories", c.category)}` : "");
  $("#c-state").textContent = stateLabel(c);
  $("#c-state").className = `state ${c.state}`;
  $("#c-flag").replaceWith(Object.assign(flagBadge(c.flag), { id: "c-flag" }));
  document.title = `${c.number} · ${t("title")} · hallrate`;
  $("#c-facts").replaceChildren(...FACTS[c.kind].flatMap((name) => {
    const value = name === "phone" && revealed && revealed.id === c.id ? revealed.phone : factValue(c, name);
    const dd = el("dd", { dataset: { field: name } }, value || t("none"));
    if (name === "phone" && c.phone && c.phone_masked && PHONE_READERS.includes(me.role) && !(revealed && revealed.id === c.id)) {
      const button = el("button", { type: "button", id: "reveal", className: "link" }, t("reveal"));
      button.addEventListener("click", revealPhone);
      dd.append(" ", button);
    }
    return [el("dt", {}, f(name, c.kind)), dd];
  }));
  const dl = [];
  if (c.first_due) dl.push(el("dt", {}, f("first_due", c.kind)), dueDd(c.first_due, c.provisional));
  dl.push(el("dt", {}, f("due", c.kind)), dueDd(c.due, c.provisional));
  if (c.extended_days) dl.push(el("dt", {}, f("extended_days")), el("dd", {}, `${c.extended_days}（${c.extensions}）`));
  dl.push(el("dt", {}, f("flag")), el("dd", {}, flagBadge(c.flag)));
  if (c.closed_on_time != null) dl.push(el("dt", {}, f("closed_on_time")), el("dd", {}, t(c.closed_on_time ? "yes" : "no")));
  $("#c-deadlines").replaceChildren(...dl);
  $("#c-provisional").hidden = !c.provisional;
  const docs = caseDocs(c);
  $("#c-documents").replaceChildren(...docs.map((form) => el("a", {
    href: `${API}/cases/${c.id}/forms/${form}.pdf`, className: "download", dataset: { form },
  }, t(`form_${form}`))));
  $("#c-documents").closest("section").hidden = docs.length === 0;
  renderTrail();
  renderActions();
}

async function revealPhone() {
  try {
    const answer = await api(`/cases/${kase.id}/phone?purpose=${encodeURIComponent(t("revealPurpose"))}`);
    revealed = { id: kase.id, phone: answer.phone };
    kase = await api(`/cases/${kase.id}`);  // the read is in the trail now
    renderCase();
  } catch (err) {
    $("#c-error").textContent = err.status === 403 ? t("forbidden", { detail: err.detail }) : String(err.message || err);
  }
}

// ---- the trail --------------------------------------------------------------------------------

function dataText(key, value) {
  if (key === "flag" && Array.isArray(value)) return value.map((v) => w("flags", v)).join(" → ");
  if (Array.isArray(value)) return value.join(" → ");
  if (key === "feedback") return w("feedback", value);
  if (key === "transferred") return t(value ? "transfer" : "undertake");
  if (key === "disposal") return t(value === "answered" ? "onTheSpot" : "transfer");
  if (key === "category") return w("categories", value);
  if (key === "requirement") return value === "other" ? t("otherRequirement") : w("requirements", REQUIREMENTS[value]);
  if (typeof value === "boolean") return t(value ? "yes" : "no");
  return value == null ? t("none") : String(value);
}

function dataLabel(key, kind) {
  if (key === "assignee_department" || key === "assignee_office") return f("assignee", kind);
  if (key === "extension_days") return t("days");
  if (key === "disposal" || key === "transferred") return f("transferred");
  if (key === "provisional") return t("provisional");
  if (key === "first_done_day") return t("firstDone");
  if (key === "first_on_time" || key === "closed_on_time") return f(key === "first_on_time" ? "first_on_time" : "closed_on_time");
  return WORDS.fields[key] || WORDS.fields[`${key}_${kind}`] ? f(key, kind) : key;
}

function renderTrail() {
  const kind = kase.kind;
  // An assignment that transferred the case shows its state as 转办, as the case does.
  const label = (state, e) => (state === "assigned" && e.action === "assign" && e.data && e.data.transferred
    ? t("transferredState") : w("states", state));
  const change = (e) => (e.from_state && e.to_state && e.from_state !== e.to_state
    ? `${w("states", e.from_state)} → ${label(e.to_state, e)}` : label(e.to_state, e));
  $("#c-trail tbody").replaceChildren(...(kase.trail || []).map((e) => el("tr", { dataset: { action: e.action } },
    el("td", {}, when(e.at)),
    el("td", {}, e.actor, e.actor_role ? el("span", { className: "note" }, ` ${w("roles", e.actor_role)}`) : null),
    el("td", {}, e.action === "flag" ? f("flag") : e.action === "phone" ? t("phoneRead") : w("actions", e.action)),
    el("td", {}, change(e)),
    el("td", { className: "wrap" }, e.note || ""),
    el("td", { className: "wrap" }, Object.entries(e.data || {}).filter(([, v]) => v !== "" && v !== null)
      .map(([k, v]) => `${dataLabel(k, kind)}: ${dataText(k, v)}`).join("\n")))));
}

// ---- actions ----------------------------------------------------------------------------------

const input = (name, props) => el("input", { name, type: "text", ...props });
const area = (name, props) => el("textarea", { name, rows: 2, maxLength: 2000, ...props });
const field = (label, control) => [el("label", {}, label, control)];
const radios = (name, choices, checked) => el("div", { className: "choices" },
  ...choices.map(([value, text]) => el("label", {}, el("input", { type: "radio", name, value, checked: value === checked }), " ", text)));

// The 承办/转办 target: a department of the case's hall, or (empty department) another office.
function assigneeControls(c) {
  const own = departments.filter((d) => d.hall_id === c.hall_id);
  return [
    ...field(f("assignee", c.kind), el("select", { name: "assignee_department" },
      el("option", { value: "" }, t("chooseDepartment")),
      ...own.map((d) => el("option", { value: d.code, selected: d.code === c.assignee_department }, `${d.name}（${d.code}）`)))),
    ...field(t("otherOffice"), input("assignee_office", { maxLength: 128 })),
    ...field(f("assignee_person"), input("assignee_person", { maxLength: 64 })),
  ];
}

function actionFields(action, c) {
  const note = (required, label) => field(t(label || (required ? "reason" : "note")), area("note", { required }));
  switch (action) {
    case "assign": {
      const reqs = [["immediate", w("requirements", "simple")], ["2_days", w("requirements", "general")],
        ["5_days", w("requirements", "complex")], ["other", t("otherRequirement")]];
      const preset = Object.keys(REQUIREMENTS).find((k) => REQUIREMENTS[k] === c.category);
      return [radios("transferred", [["false", t("ownOffice")], ["true", t("outside")]], c.kind === "cannot_do" ? "true" : "false"),
        ...assigneeControls(c),
        ...(c.kind === "cannot_do" ? [...field(f("requirement"), radios("requirement", reqs, c.requirement || preset)),
          ...field(t("otherRequirement"), input("requirement_other", { maxLength: 64 }))] : []),
        ...field(f("opinion", c.kind), area("opinion")), ...note(false)];
    }
    case "start": return [...field(f("assignee_person"), input("assignee_person", { maxLength: 64, value: c.assignee_person || "" })), ...note(false)];
    case "return": return note(true);
    case "reply":
      if (c.kind === "complaint") return [...field(f("opinion", c.kind), area("opinion")), ...field(f("reply"), area("reply")), ...note(false)];
      if (c.kind === "bad_rating") return [...field(f("rectification"), area("rectification")), ...field(f("result"), area("result")), ...note(false)];
      return [...field(f("result"), area("result")), ...note(false)];
    case "callback":
      return [...field(f("feedback"), radios("feedback", [["satisfied", w("feedback", "satisfied")], ["dissatisfied", w("feedback", "dissatisfied")]])), ...note(false)];
    case "extend":
      return [...field(`${t("days")}`, input("extension_days", { type: "number", min: 1, max: 120, required: true })), ...note(true)];
    case "close": return note(c.state === "accepted");
    default: return note(true, "note");
  }
}

// The form's values as the API's fields (empty text is left out; booleans and numbers typed).
function formFields(form, action) {
  const data = new FormData(form);
  const fields = {};
  for (const [name, raw] of data.entries()) {
    if (name === "note") continue;
    const value = String(raw).trim();
    if (value === "") continue;
    if (name === "transferred") fields[name] = value === "true";
    else if (name === "extension_days") fields[name] = Number(value);
    else fields[name] = value;
  }
  if (action === "assign" && fields.assignee_department) delete fields.assignee_office;
  return { fields, note: String(data.get("note") || "").trim() };
}

// The actions offered: the case's allowed actions for the roles that work cases; an agent
// records only the call-back of a 差评 case (the API checks both again).
function offered(c) {
  if (canAct()) return c.allowed_actions || [];
  if (me.role === "agent" && c.kind === "bad_rating") return (c.allowed_actions || []).filter((a) => a === "callback");
  return [];
}

function renderActions() {
  const allowed = offered(kase);
  const readOnly = !canAct() && !(me.role === "agent" && kase.kind === "bad_rating");
  $("#c-readonly").hidden = !readOnly;
  $("#c-noactions").hidden = readOnly || allowed.length > 0;
  $("#c-actions").replaceChildren(...allowed.map((action) => {
    const form = el("form", { dataset: { action }, noValidate: true },
      el("fieldset", { className: "action" }, el("legend", {}, w("actions", action)),
        el("p", { className: "hint" }, w("hints", action)), ...actionFields(action, kase),
        el("button", { type: "submit" }, w("actions", action))));
    form.addEventListener("submit", (event) => { event.preventDefault(); submitAction(form, action); });
    return form;
  }));
}

async function submitAction(form, action) {
  const { fields, note } = formFields(form, action);
  $("#c-error").textContent = "";
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    kase = await api(`/cases/${kase.id}/actions`, {
      method: "POST", body: { action, fields, note, version: kase.version },
    });
    if (!kase.trail) kase = await api(`/cases/${kase.id}`);
    renderCase();
    say(`${w("actions", action)}：${t("done")}`);
  } catch (err) {
    const message = err.status === 403 ? t("forbidden", { detail: err.detail }) : String(err.message || err);
    if (err.status === 409) await loadCase().catch(() => {});
    $("#c-error").textContent = message;
  } finally { button.disabled = false; }
}

async function loadCase() {
  const id = location.pathname.split("/").pop();
  kase = await api(`/cases/${encodeURIComponent(id)}`);
  renderCase();
}

VIEWS.case = {
  async show() {
    const notice = sessionStorage.getItem("hallrate.cases.notice");
    sessionStorage.removeItem("hallrate.cases.notice");
    try { await loadCase(); } catch (err) {
      $("#c-error").textContent = err.status === 404 || err.status === 403 ? t("notFound") : String(err.message || err);
      $$("#case-view > section").forEach((s) => { s.hidden = s.id !== "c-actions-card"; });
      return;
    }
    if (notice) $("#c-error").textContent = notice;
  },
  relabel() { if (kase) renderCase(); },
};
