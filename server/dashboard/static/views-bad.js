// hallrate dashboard: the 差评 list (#/bad, docs/dashboard.md "差评 list"): every 差评 of the selected
// hall and period from GET /api/v1/bad-ratings, newest first, each with its follow-up case (number
// linking to /cases/<id>, state, 黄牌/红牌/督办 flag, due day). Filters and paging live in the hash:
// #/bad?hall=H1&period=2026-11&window=A01&staff=1001&channel=sms&case_state=open&offset=50.
// Loaded after dashboard.js; every value from the API becomes a text node (HALLRATE.el), never HTML.
"use strict";

(() => {
  const H = HALLRATE;
  const { el, t } = H;

  H.text({
    zh: {
      badTitle: "差评", badToday: "今日差评", badClear: "清除筛选", badStaff: "工作人员", badChannel: "渠道",
      badCaseState: "案件状态", badAll: "全部", badTime: "时间", badLevel: "评价", badReasons: "原因",
      badComment: "意见", badCase: "案件", badState: "状态", badFlag: "督办标记", badDue: "办理期限",
      badNoCase: "未立案", badEmpty: "本期间没有符合条件的差评", badTotal: "共 {n} 条差评",
      badShown: "第 {a}–{b} 条", badPages: "分页", badPrev: "上一页", badNext: "下一页", badPageSize: "每页",
      badOnTime: "按期", badLate: "超期", badOpenCase: "查看案件 {n}", badPeriod: "期间 {p}",
      badStateAny: "全部", caseState_none: "未立案",
      caseState_accepted: "受理", caseState_assigned: "承办", caseState_handling: "办理",
      caseState_callback: "回访", caseState_closed: "办结", caseState_returned: "退回",
      caseFlag_none: "正常", caseFlag_yellow: "黄牌·临期", caseFlag_red: "红牌·逾期", caseFlag_escalated: "督办",
    },
    en: {
      badTitle: "Bad ratings (差评)", badToday: "Today's 差评", badClear: "Clear filters", badStaff: "Staff",
      badChannel: "Channel", badCaseState: "Case state", badAll: "all", badTime: "Time", badLevel: "Rating",
      badReasons: "Reasons", badComment: "Comment", badCase: "Case", badState: "State", badFlag: "Flag",
      badDue: "Due", badNoCase: "no case", badEmpty: "no 差评 in this period for these filters",
      badTotal: "{n} bad ratings", badShown: "{a}–{b} shown", badPages: "pages", badPrev: "Previous", badNext: "Next",
      badPageSize: "per page", badOnTime: "on time", badLate: "late", badOpenCase: "open case {n}",
      badPeriod: "period {p}", badStateAny: "all", caseState_none: "no case",
      caseState_accepted: "Accepted", caseState_assigned: "Assigned", caseState_handling: "Handling",
      caseState_callback: "Call-back", caseState_closed: "Closed", caseState_returned: "Returned",
      caseFlag_none: "on time", caseFlag_yellow: "Yellow: due soon", caseFlag_red: "Red: overdue",
      caseFlag_escalated: "Escalated (督办)",
    },
  });

  const CHANNELS = ["evaluator", "ballot_box", "sms", "phone", "online", "system_default"];
  const CASE_STATES = ["none", "accepted", "assigned", "handling", "callback", "returned", "closed"];
  const FILTERS = ["window", "staff", "channel", "case_state"];
  const PAGE_SIZES = [20, 50, 100];
  const DEFAULT_LIMIT = 50;
  const COLUMNS = ["badTime", "badChannel", "badLevel", "window", "badStaff", "badReasons", "badComment", "badCase",
    "badState", "badFlag", "badDue"];

  const fmt = (key, values) => Object.entries(values).reduce((s, [k, v]) => s.replace(`{${k}}`, v), t(key));

  // The view's parameters from the hash, bounded as the API bounds them (limit 1..500, offset >= 0).
  function paging(params) {
    const limit = Number.parseInt(params.get("limit") ?? "", 10);
    const offset = Number.parseInt(params.get("offset") ?? "", 10);
    return {
      limit: Number.isInteger(limit) && limit >= 1 && limit <= 500 ? limit : DEFAULT_LIMIT,
      offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
    };
  }

  function apiQuery(st) {
    const q = new URLSearchParams({ hall: st.hall, period: st.period });
    for (const name of FILTERS) {
      const value = (st.params.get(name) ?? "").trim();
      if (value) q.set(name, value);
    }
    const { limit, offset } = paging(st.params);
    q.set("limit", String(limit));
    q.set("offset", String(offset));
    return q;
  }

  // ---------------------------------------------------------------- the skeleton (built once)

  const option = (value, key) => el("option", { value, dataset: { i18n: key } }, t(key));

  function skeleton(section) {
    const control = (key, node) => el("label", {}, el("span", { dataset: { i18n: key } }, t(key)), " ", node);
    const form = el("form", { id: "bad-filters", className: "filters", attrs: { role: "search" } },
      control("window", el("input", { id: "bad-window", name: "window", size: 6, maxLength: 32,
        autocomplete: "off", attrs: { list: "bad-windows" } })),
      el("datalist", { id: "bad-windows" }),
      control("badStaff", el("input", { id: "bad-staff", name: "staff", size: 8, maxLength: 32,
        autocomplete: "off", attrs: { list: "bad-staff-list" } })),
      el("datalist", { id: "bad-staff-list" }),
      control("badChannel", el("select", { id: "bad-channel", name: "channel" },
        option("", "badAll"), CHANNELS.map((c) => option(c, c)))),
      control("badCaseState", el("select", { id: "bad-case-state", name: "case_state" },
        option("", "badStateAny"), CASE_STATES.map((s) => option(s, `caseState_${s}`)))),
      control("badPageSize", el("select", { id: "bad-limit", name: "limit" },
        PAGE_SIZES.map((n) => el("option", { value: String(n) }, String(n))))),
      el("button", { type: "submit", dataset: { i18n: "apply" } }, t("apply")),
      el("button", { type: "button", id: "bad-clear", dataset: { i18n: "badClear" } }, t("badClear")),
      el("button", { type: "button", id: "bad-today", className: "primary", dataset: { i18n: "badToday" } },
        t("badToday")));
    form.addEventListener("change", () => apply(form));
    form.addEventListener("submit", (e) => { e.preventDefault(); apply(form); });
    form.querySelector("#bad-clear").addEventListener("click", () => {
      H.go("bad", null, Object.fromEntries([...FILTERS, "offset"].map((k) => [k, null])));
    });
    // The duty manager's shortcut: the period becomes today's date (hall-local, Asia/Shanghai).
    form.querySelector("#bad-today").addEventListener("click", () => H.go("bad", null, { period: H.today(), offset: null }));
    section.replaceChildren(
      el("h2", { className: "view-title", tabIndex: -1, dataset: { i18n: "badTitle" } }, t("badTitle")),
      el("div", { className: "card", id: "bad" }, form,
        el("p", { className: "note", id: "bad-summary", attrs: { "aria-live": "polite" } }),
        el("div", { className: "scroll" }, el("table", { id: "bad-table" },
          el("thead", {}, el("tr", {}, COLUMNS.map((k) => el("th", { dataset: { i18n: k } }, t(k))))),
          el("tbody"))),
        el("p", { className: "note empty", id: "bad-empty", hidden: true }, t("badEmpty")),
        el("nav", { className: "pager", id: "bad-pager", attrs: { "aria-label": t("badPages") } },
          el("button", { type: "button", id: "bad-prev", dataset: { i18n: "badPrev" } }, t("badPrev")),
          el("span", { id: "bad-range" }),
          el("button", { type: "button", id: "bad-next", dataset: { i18n: "badNext" } }, t("badNext")))));
    section.querySelector("#bad-prev").addEventListener("click", () => page(-1));
    section.querySelector("#bad-next").addEventListener("click", () => page(1));
  }

  // The controls -> the hash (a new filter starts at the first page).
  function apply(form) {
    const extra = { offset: null };
    for (const name of FILTERS) extra[name] = form.elements[name].value.trim() || null;
    const limit = Number(form.elements.limit.value);
    extra.limit = limit === DEFAULT_LIMIT ? null : limit;
    H.go("bad", null, extra);
  }

  function page(step) {
    const { limit, offset } = paging(H.state.params);
    const next = Math.max(0, offset + step * limit);
    H.go("bad", null, { offset: next || null });
  }

  // The hash -> the controls. A control whose hash value has not changed since the last render keeps
  // its content (a filter being typed survives the 5-second refresh); a changed hash (back, a link)
  // always wins.
  const synced = {};
  function syncForm(section, params) {
    const form = section.querySelector("#bad-filters");
    for (const name of FILTERS) {
      const value = params.get(name) ?? "";
      const control = form.elements[name];
      if (synced[name] !== value || control !== document.activeElement) control.value = value;
      synced[name] = value;
    }
    const limit = String(paging(params).limit);
    if (![...form.elements.limit.options].some((o) => o.value === limit)) {
      form.elements.limit.append(el("option", { value: limit }, limit));
    }
    form.elements.limit.value = limit;
  }

  // Suggestions for the window and staff boxes: the hall's ranked windows and staff of the period.
  let suggestedFor = null;
  async function suggest(section, st) {
    const key = `${st.hall}|${st.period}`;
    if (suggestedFor === key) return;
    suggestedFor = key;
    const q = `hall=${encodeURIComponent(st.hall)}&period=${encodeURIComponent(st.period)}`;
    const [windows, staff] = await Promise.all([
      H.api(`/rankings?by=window&${q}`).catch(() => ({ items: [] })),
      H.api(`/rankings?by=staff&${q}`).catch(() => ({ items: [] })),
    ]);
    const opts = (items) => items.filter((i) => i.code).map((i) => el("option", { value: i.code }, i.name || i.code));
    section.querySelector("#bad-windows").replaceChildren(...opts(windows.items || []));
    section.querySelector("#bad-staff-list").replaceChildren(...opts(staff.items || []));
  }

  // ---------------------------------------------------------------- rows

  function caseCells(c) {
    if (!c) {
      return [el("td", { className: "note" }, t("badNoCase")), el("td", {}, "—"), el("td", {}, "—"), el("td", {}, "—")];
    }
    const id = Number(c.id);
    const number = Number.isInteger(id) && id > 0
      ? el("a", { href: `/cases/${id}`, title: fmt("badOpenCase", { n: c.number }) }, c.number)
      : el("span", {}, c.number);
    const closed = c.state === "closed" && c.closed_day
      ? [" ", el("span", { className: "note" }, `${c.closed_day}${c.closed_on_time == null ? ""
        : ` ${t(c.closed_on_time ? "badOnTime" : "badLate")}`}`)]
      : null;
    return [
      el("td", { className: "case" }, number),
      el("td", { dataset: { caseState: c.state } }, t(`caseState_${c.state}`), closed),
      el("td", {}, el("span", { className: `case-flag flag-${c.flag}`, dataset: { flag: c.flag } }, t(`caseFlag_${c.flag}`))),
      el("td", { className: "due" }, c.due || "—"),
    ];
  }

  function row(item) {
    const w = item.window;
    const s = item.staff;
    const cells = [
      el("td", { className: "time", title: item.occurred_at }, item.occurred_local),
      el("td", {}, t(item.channel)),
      el("td", { className: `level level-${item.level}` }, H.levelName(item.level)),
      el("td", {}, w ? `${w.code}${w.name && w.name !== w.code ? ` ${w.name}` : ""}` : "—"),
      el("td", {}, s ? (s.name && s.name !== s.number ? `${s.name}（${s.number}）` : s.number) : "—"),
      el("td", { className: "reasons" }, (item.reasons || []).join("、") || "—"),
      el("td", { className: "comment" }, item.comment || "—"),
      ...caseCells(item.case),
    ];
    // Each cell names its column (shown before the value when a phone stacks the row, which then
    // leaves out the empty ones).
    cells.forEach((cell, i) => {
      cell.dataset.label = t(COLUMNS[i]);
      if (cell.textContent === "—") cell.classList.add("blank");
    });
    return el("tr", { dataset: { evaluation: String(item.evaluation_id), caseState: item.case ? item.case.state : "none" } },
      cells);
  }

  function show(section, data, limit, offset) {
    const body = section.querySelector("#bad-table tbody");
    H.fill(body, data.items, (items) => items.map(row));
    const empty = data.items.length === 0;
    section.querySelector("#bad-table").hidden = empty;
    section.querySelector("#bad-empty").hidden = !empty;
    section.querySelector("#bad-empty").textContent = t("badEmpty");
    section.querySelector("#bad-summary").textContent =
      `${fmt("badTotal", { n: data.total })} · ${fmt("badPeriod", { p: data.period.label ?? H.state.period })}`;
    const first = empty ? 0 : offset + 1;
    section.querySelector("#bad-range").textContent = fmt("badShown", { a: first, b: offset + data.items.length });
    const prev = section.querySelector("#bad-prev");
    const next = section.querySelector("#bad-next");
    const held = [prev, next].find((b) => b === document.activeElement);
    prev.disabled = offset === 0;
    next.disabled = offset + limit >= data.total;
    section.querySelector("#bad-pager").hidden = data.total <= limit && offset === 0;
    section.querySelector("#bad-pager").setAttribute("aria-label", t("badPages"));
    // The first or last page disables the button just pressed: the keyboard stays in the pager.
    if (held && held.disabled) {
      const other = held === prev ? next : prev;
      (other.disabled || other.closest("[hidden]") ? section.querySelector(".view-title") : other).focus({ preventScroll: true });
    }
  }

  function failed(section, err) {
    H.fill(section.querySelector("#bad-table tbody"), null, () => []);
    section.querySelector("#bad-table").hidden = true;
    section.querySelector("#bad-pager").hidden = true;
    section.querySelector("#bad-summary").textContent = "";
    const box = section.querySelector("#bad-empty");
    box.hidden = false;
    box.textContent = String(err.message || err);
  }

  H.views.bad = {
    title: "navBad",
    render: async (section, st) => {
      if (!section.querySelector("#bad-filters")) {
        skeleton(section);
        // The first visit from the nav: the heading did not exist when the router moved the focus.
        if (document.activeElement?.dataset?.nav === "bad") section.querySelector(".view-title").focus({ preventScroll: true });
      }
      syncForm(section, st.params);
      suggest(section, st);
      const { limit, offset } = paging(st.params);
      let data;
      try {
        data = await H.api(`/bad-ratings?${apiQuery(st)}`);
      } catch (err) {  // e.g. 404 unknown window: no stale rows under the message
        failed(section, err);
        throw err;
      }
      show(section, data, limit, offset);
    },
  };
})();
