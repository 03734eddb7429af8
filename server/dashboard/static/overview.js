// hallrate dashboard: the 总览 view (#/overview, the default): score cards for today / this month /
// this quarter, the selected period's headline score (GET /scores) and channel groups, the trend
// (GET /trends, &grain=day|week|month), the channel mix, the heat map (GET /heatmap, &heat=bad),
// the window ranking (GET /rankings?by=window) and the policy. Loaded after parts.js.
"use strict";

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
    body.append(el("tr", { dataset: { window: item.code } },
      el("td", {}, item.rank ?? "—"),
      el("td", {}, el("a", { href: HALLRATE.href("window", item.code) }, item.code)),
      el("td", {}, item.name || ""),
      el("td", {}, pct(item.score)), el("td", { className: "num" }, item.counted_total),
      el("td", { className: "flag" }, notes.join(t("listSep")))));
  }
}

function basisText(r) {
  return r.missing_groups.length
    ? `${t(r.score.basis)} (${t("missing")}${r.missing_groups.map(groupName).join(t("enumSep"))})`
    : t(r.score.basis);
}

function intervalText(r) {
  const i = r.interval95;
  return i ? HALLRATE.parts.fmt("intervalText", { low: i.low, high: i.high }) : "";
}

async function renderOverview(section, st) {
  const { scoreCards, trendCard, mixCard, heatCard, settle } = HALLRATE.parts;
  const q = `hall=${encodeURIComponent(st.hall)}&period=${encodeURIComponent(st.period)}`;
  const scope = { hall: st.hall };
  await settle([
    [$("#cards"), () => scoreCards($("#cards"), st, scope, false)],
    [null, async () => {
      const [score, ranking] = await Promise.all([api(`/scores?${q}`), api(`/rankings?by=window&${q}`)]);
      const r = score.result;
      $("#headline-period").textContent = score.period.label;
      $("#score").textContent = pct(r.score);
      $("#score").dataset.value = r.score.percent ?? "";
      $("#alt-score").textContent = pct(r.alt_score);
      $("#basis").textContent = basisText(r);
      $("#interval").textContent = intervalText(r);
      renderGroups(r);
      renderRanking(ranking);
      mixCard($("#mix"), score);
      $("#policy").textContent = JSON.stringify(r.policy, null, 2);
    }],
    [$("#trend"), () => trendCard($("#trend"), $("#grain"), st, scope, "")],
    [$("#heatmap"), () => heatCard($("#heatmap"), $("#heat-toggle"), st)],
  ]);
}

HALLRATE.views.overview = { title: "navOverview", render: renderOverview };
