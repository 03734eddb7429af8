// Opening a case by hand (/cases/new/complaint, /cases/new/cannot_do): the 吐槽找茬 承办单's and
// the 办不成事 受理单's fields. A 受理单 answered on the spot (当场答复) is opened and closed; one to
// transfer (转办) is opened and assigned, both through the API's actions.
"use strict";

const newKind = () => location.pathname.split("/").pop();

function renderNewForm() {
  const kind = newKind();
  const form = $("#new-form");
  $("#new-title").textContent = t(kind === "complaint" ? "newComplaint" : "newCannotDo");
  const hall = $("#n-hall");
  const chosen = hall.value;
  hall.replaceChildren(...halls.map((h) => el("option", { value: h.code, selected: h.code === chosen }, `${h.code} ${h.name}`)));
  if (!chosen && me && me.hall) hall.value = me.hall;
  $("#n-sources").replaceChildren(...WORDS.sources.map(([zh, en]) => el("option", { value: zh }, lang === "en" ? en : zh)));
  $("#n-name-label").textContent = f("citizen_name", kind);
  $("#n-phone-label").textContent = f("phone", kind);
  $("#n-content-label").textContent = f("content", kind);
  const category = form.querySelector("input[name=category]:checked")?.value || "general";
  $("#n-category").replaceChildren(...Object.keys(WORDS.categories).map((code) => el("label", {},
    el("input", { type: "radio", name: "category", value: code, checked: code === category }), " ", w("categories", code),
    el("span", { className: "note" }, `（${w("requirements", code)}）`))));
  renderTransferTarget();
  showForKind();
}

// The 转办部门: a department of the chosen hall, or another office by name, and the person.
function renderTransferTarget() {
  const hallId = (halls.find((h) => h.code === $("#n-hall").value) || {}).id;
  const old = $("#n-department")?.value;
  $("#n-assignee").replaceChildren(
    el("select", { id: "n-department", name: "assignee_department" }, el("option", { value: "" }, t("chooseDepartment")),
      ...departments.filter((d) => d.hall_id === hallId)
        .map((d) => el("option", { value: d.code, selected: d.code === old }, `${d.name}（${d.code}）`))),
    el("label", {}, t("otherOffice"), el("input", { name: "assignee_office", maxLength: 128 })),
    el("label", {}, f("assignee_person"), el("input", { name: "assignee_person", maxLength: 64 })));
}

// Show the fields of this kind; 当场答复 only where the state machine closes at once (简单事项).
function showForKind() {
  const kind = newKind();
  const form = $("#new-form");
  const category = form.querySelector("input[name=category]:checked")?.value;
  const spotAllowed = WORDS.close_at_once.includes(category);
  const spot = form.querySelector("input[name=handling][value=spot]");
  spot.disabled = !spotAllowed;
  if (!spotAllowed && spot.checked) form.querySelector("input[name=handling][value=transfer]").checked = true;
  const handling = form.querySelector("input[name=handling]:checked")?.value;
  $$("#new-form [data-kind]").forEach((node) => {
    const k = node.dataset.kind;
    node.hidden = k === "complaint" ? kind !== "complaint"
      : kind !== "cannot_do" || (k === "spot" && handling !== "spot") || (k === "transfer" && handling !== "transfer");
  });
}

$("#new-form").addEventListener("change", (event) => {
  if (event.target.id === "n-hall") renderTransferTarget();
  showForKind();
});

function newFields(form, kind) {
  const data = new FormData(form);
  const text = (name) => String(data.get(name) || "").trim();
  const fields = {};
  const names = ["citizen_name", "phone", "content", "window", "ticket", "remarks"];
  if (kind === "complaint") names.push("source");
  for (const name of names) if (text(name)) fields[name] = text(name);
  const assign = {};
  if (kind === "cannot_do") {
    fields.disposal = text("handling") === "spot" ? "answered" : "transfer";
    if (fields.disposal === "transfer") {
      for (const name of ["assignee_department", "assignee_office", "assignee_person"]) if (text(name)) assign[name] = text(name);
      if (assign.assignee_department) delete assign.assignee_office;
    }
  }
  return { fields, assign, opinion: text("opinion"), category: kind === "cannot_do" ? text("category") : "" };
}

$("#new-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const kind = newKind();
  const { fields, assign, opinion, category } = newFields(form, kind);
  $("#new-error").textContent = "";
  $("#n-submit").disabled = true;
  let c = null;
  try {
    c = await api("/cases", {
      method: "POST", body: { hall: $("#n-hall").value, kind, category, fields },
    });
    if (kind === "cannot_do" && fields.disposal === "answered") {
      c = await api(`/cases/${c.id}/actions`, {
        method: "POST", body: { action: "close", fields: { result: opinion }, note: opinion, version: c.version },
      });
    } else if (kind === "cannot_do") {
      c = await api(`/cases/${c.id}/actions`, {
        method: "POST", body: { action: "assign", fields: { ...assign, transferred: true, opinion }, version: c.version },
      });
    }
    location.assign(`/cases/${c.id}`);
  } catch (err) {
    // Opened but not transferred / closed: say so and go to the case, where it can be done.
    if (c) { sessionStorage.setItem("hallrate.cases.notice", String(err.message || err)); location.assign(`/cases/${c.id}`); return; }
    $("#new-error").textContent = err.status === 403 ? t("forbidden", { detail: err.detail }) : String(err.message || err);
  } finally { $("#n-submit").disabled = false; }
});

VIEWS.new = {
  async show() {
    if (!canAct()) { $("#new-error").textContent = t("readOnly"); $("#n-submit").disabled = true; }
    renderNewForm();
  },
  relabel() { renderNewForm(); },
};
