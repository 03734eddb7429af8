// hallrate dashboard: the 窗口 and 人员 views.
//   #/windows            every window compared (GET /rankings?by=window): bars with 95 % whiskers,
//                        below-min-sample members grey and flagged 样本不足, a sortable table (&sort=)
//   #/window/<code>      one window: score cards, trend (GET /trends?window=), its staff members'
//                        ranking (GET /rankings?by=staff&window=), a link to its 差评 (#/bad?window=)
//   #/staff, #/staff/<number>   the same for staff members (their windows: /rankings?by=window&staff=)
// Loaded after parts.js. Every value from the API becomes a text node.
"use strict";

(() => {
  const { api, el, t, pct, fill, charts } = HALLRATE;
  const { query, scoreCards, trendCard, settle, fmt, width } = HALLRATE.parts;

  HALLRATE.text({
    zh: {
      cmpTitle_window: "窗口对比", cmpTitle_staff: "人员对比", code_window: "窗口", code_staff: "工号",
      detail_window: "窗口 {code}", detail_staff: "工作人员 {code}", interval: "95% 区间",
      barsLabel_window: "{period}各窗口群众满意度及 95% 置信区间", barsLabel_staff: "{period}各工作人员群众满意度及 95% 置信区间",
      rankOf: "第 {rank} 名 / 共 {total} 名", noRank: "本期间无评价", sub_window: "本窗口工作人员（按在本窗口的评价）",
      sub_staff: "该工作人员的窗口（按其在各窗口的评价）", bad_window: "本窗口差评 →", bad_staff: "该工作人员差评 →",
      back_window: "← 窗口对比", back_staff: "← 人员对比", unassigned: "未关联的评价：{n}", noneHere: "暂无评价",
      sortHint: "点击列标题排序", excludedCol: "剔除",
    },
    en: {
      cmpTitle_window: "Windows compared", cmpTitle_staff: "Staff compared", code_window: "Window", code_staff: "Number",
      detail_window: "Window {code}", detail_staff: "Staff member {code}", interval: "95 % interval",
      barsLabel_window: "public satisfaction of every window with its 95 % confidence interval, {period}",
      barsLabel_staff: "public satisfaction of every staff member with its 95 % confidence interval, {period}",
      rankOf: "rank {rank} of {total}", noRank: "no ratings in this period", sub_window: "Staff at this window (their ratings here)",
      sub_staff: "This staff member's windows (ratings there)", bad_window: "bad ratings (差评) of this window →",
      bad_staff: "bad ratings (差评) of this staff member →", back_window: "← windows compared", back_staff: "← staff compared",
      unassigned: "ratings without one: {n}", noneHere: "no ratings", sortHint: "column headings sort the table",
      excludedCol: "excluded",
    },
  });

  const KINDS = {
    window: { list: "windows", detail: "window", other: "staff" },
    staff: { list: "staff", detail: "staff", other: "window" },
  };
  const SORTS = ["rank", "code", "name", "score", "n"];

  function sortItems(items, sort) {
    const desc = sort.startsWith("-");
    const key = SORTS.includes(sort.replace(/^-/, "")) ? sort.replace(/^-/, "") : "rank";
    const val = {
      rank: (i) => i.rank, code: (i) => i.code, name: (i) => i.name || "",
      score: (i) => (i.score?.percent == null ? null : Number(i.score.percent)), n: (i) => i.counted_total,
    }[key];
    const indexed = items.map((item, index) => ({ item, index, v: val(item) }));
    indexed.sort((a, b) => {
      if (a.v == null || b.v == null) return (a.v == null) - (b.v == null) || a.index - b.index;
      const c = typeof a.v === "string" ? a.v.localeCompare(b.v, "zh-CN") : a.v - b.v;
      return (desc ? -c : c) || a.index - b.index;
    });
    return indexed.map((x) => x.item);
  }

  const notes = (item) => [...item.missing_groups.map((g) => `${t("missing")}${HALLRATE.groupName(g)}`),
    ...item.below_min_sample.map((g) => `${HALLRATE.groupName(g)} ${t("belowMin")}`)].join(t("listSep"));
  const interval = (item) => (item.interval95 ? `${item.interval95.low}–${item.interval95.high}%` : "—");
  const label = (item) => (item.name && item.name !== item.code ? `${item.code} ${item.name}` : item.code);

  function barItems(items) {
    return items.map((i) => ({
      key: i.code, label: label(i), value: i.score?.percent ?? null, n: i.counted_total,
      low: i.interval95?.low ?? null, high: i.interval95?.high ?? null, weak: i.below_min_sample.length > 0,
    }));
  }

  // The members' table; with `sortable` the column headings are buttons that set &sort= in the URL.
  function memberTable(kind, items, st, sortable) {
    const sort = st.params.get("sort") || "rank";
    const col = (key, text) => {
      if (!sortable) return el("th", { attrs: { scope: "col" } }, text);
      const active = sort.replace(/^-/, "") === key;
      const desc = active && sort.startsWith("-");
      const next = active && !desc ? `-${key}` : key;
      return el("th", { attrs: { scope: "col", "aria-sort": active ? (desc ? "descending" : "ascending") : "none" } },
        el("button", { type: "button", className: "sort", dataset: { sort: key },
          onclick: () => HALLRATE.go(st.view, st.arg, { sort: next === "rank" ? null : next }) },
        text, active ? (desc ? " ▼" : " ▲") : ""));
    };
    const head = el("tr", {}, col("rank", t("rank")), col("code", t(`code_${kind}`)), col("name", t("name")),
      col("score", t("score")), el("th", { attrs: { scope: "col" } }, t("interval")), col("n", t("count")),
      el("th", { attrs: { scope: "col" } }, t("flags")));
    const rows = items.map((i) => el("tr", { dataset: { code: i.code } },
      el("td", {}, i.rank ?? "—"),
      el("td", {}, el("a", { href: HALLRATE.href(KINDS[kind].detail, i.code) }, i.code)),
      el("td", {}, i.name || ""), el("td", { className: "num", dataset: { value: i.score?.percent ?? "" } }, pct(i.score)),
      el("td", { className: "num" }, interval(i)), el("td", { className: "num" }, i.counted_total),
      el("td", { className: "flag" }, notes(i))));
    if (!rows.length) rows.push(el("tr", {}, el("td", { colSpan: 7, className: "note" }, t("noneHere"))));
    return el("div", { className: "scroll" }, el("table", { className: "members", dataset: { kind } },
      el("thead", {}, head), el("tbody", {}, rows)));
  }

  // The section's skeleton for a mode (list or detail), built once per mode.
  function skeleton(section, kind, mode) {
    const body = section.querySelector(".view-body");
    if (body.dataset.mode === mode) return body;
    body.dataset.mode = mode;
    const id = (name) => `${kind}-${mode}-${name}`;
    if (mode === "list") {
      body.replaceChildren(
        el("div", { className: "card" }, el("div", { className: "chart", id: id("chart") })),
        el("div", { className: "card" }, el("p", { className: "note" }, el("span", { className: "sort-hint" }), " ", el("span", { className: "unassigned" })),
          el("div", { className: "table", id: id("table") })));
    } else {
      body.replaceChildren(
        el("p", { className: "links" }, el("a", { className: "back" }), " ", el("a", { className: "bad-link" })),
        el("div", { className: "cards", id: id("cards") }),
        el("div", { className: "card" }, el("h2", {}, el("span", { className: "trend-title" }), " ", el("span", { className: "grain", id: id("grain") })),
          el("div", { className: "chart", id: id("trend") })),
        el("div", { className: "card" }, el("h2", { className: "sub-title" }), el("div", { className: "table", id: id("sub") })));
    }
    return body;
  }

  async function renderList(section, st, kind) {
    const body = skeleton(section, kind, "list");
    section.querySelector(".view-title").textContent = t(`cmpTitle_${kind}`);
    const data = await api(`/rankings${query({ by: kind, hall: st.hall, period: st.period })}`);
    const items = sortItems(data.items, st.params.get("sort") || "rank");
    const chart = body.querySelector(".chart");
    const spec = {
      id: `${kind}-bars`, width: width(chart), items: barItems(items), itemName: t(`code_${kind}`), valueName: t("score"),
      label: fmt(`barsLabel_${kind}`, { period: data.period.label }),
    };
    fill(chart, spec, () => charts.bars(spec));
    body.querySelector(".sort-hint").textContent = t("sortHint");
    body.querySelector(".unassigned").textContent = fmt("unassigned", { n: data.unassigned_total });
    const table = body.querySelector(".table");
    fill(table, [items, st.params.get("sort"), st.hall, st.period], () => memberTable(kind, items, st, true));
  }

  async function renderDetail(section, st, kind, code) {
    const body = skeleton(section, kind, "detail");
    const other = KINDS[kind].other;
    const scope = { hall: st.hall, [kind]: code };
    const title = fmt(`detail_${kind}`, { code });
    const back = body.querySelector("a.back");
    back.href = HALLRATE.href(KINDS[kind].list);
    back.textContent = t(`back_${kind}`);
    const bad = body.querySelector("a.bad-link");
    bad.href = HALLRATE.href("bad", null, { [kind]: code });
    bad.textContent = t(`bad_${kind}`);
    body.querySelector(".trend-title").textContent = t("trend");
    body.querySelector(".sub-title").textContent = t(`sub_${kind}`);
    const $in = (name) => body.querySelector(`#${kind}-detail-${name}`);
    await settle([
      [null, async () => {
        const ranking = await api(`/rankings${query({ by: kind, hall: st.hall, period: st.period })}`);
        const me = ranking.items.find((i) => i.code === code);
        const ranked = ranking.items.filter((i) => i.rank != null).length;
        const heading = section.querySelector(".view-title");
        fill(heading, [title, me && me.name, me && me.rank, ranked], () => [title, me && me.name ? ` · ${me.name}` : "",
          el("span", { className: "sub" }, me && me.rank != null ? fmt("rankOf", { rank: me.rank, total: ranked }) : t("noRank"))]);
      }],
      [$in("cards"), () => scoreCards($in("cards"), st, scope, true)],
      [$in("trend"), () => trendCard($in("trend"), $in("grain"), st, scope, `${title} `)],
      [$in("sub"), async () => {
        const data = await api(`/rankings${query({ by: other, hall: st.hall, [kind]: code, period: st.period })}`);
        const items = data.items.filter((i) => i.counted_total > 0 || i.excluded_total > 0);
        fill($in("sub"), [items, st.hall, st.period], () => memberTable(other, items, st, false));
      }],
    ]);
  }

  HALLRATE.views.windows = { title: "navWindows", render: (section, st) => renderList(section, st, "window") };
  HALLRATE.views.window = { title: "navWindows", render: (section, st) => renderDetail(section, st, "window", st.arg) };
  HALLRATE.views.staff = {
    title: "navStaff",
    render: (section, st) => (st.arg ? renderDetail(section, st, "staff", st.arg) : renderList(section, st, "staff")),
  };
})();
