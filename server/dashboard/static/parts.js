// hallrate dashboard: parts shared by the views (HALLRATE.parts): score cards (today / this month /
// this quarter / the selected period), the trend card with its day/week/month switch
// (GET /trends), the channel mix (GET /scores result.channels) and the heat map (GET /heatmap).
// Loaded after dashboard.js and charts.js. Every value from the API becomes a text node.
"use strict";

(() => {
  const { api, el, t, pct, fill, charts } = HALLRATE;

  HALLRATE.text({
    zh: {
      cardToday: "今日", cardMonth: "本月", cardQuarter: "本季度", cardPeriod: "所选期间", trend: "趋势",
      grain_day: "日", grain_week: "周", grain_month: "月", grainLabel: "粒度", mix: "渠道构成", heatmap: "时段分布",
      heatVotes: "评价数", heatBad: "差评数", heatLabel: "{period}按星期和小时的{what}（{tz}）", trendLabel: "{scope}{period}趋势：群众满意度与各渠道满意率，按{grain}",
      mixLabel: "{period}各渠道计入的评价数", bucket: "区间", range: "起止", channel: "渠道", loading: "加载中…",
      weekdays: "周一,周二,周三,周四,周五,周六,周日", intervalText: "95% 置信区间 {low}%–{high}%",
      samples: "n = {n}",
    },
    en: {
      cardToday: "Today", cardMonth: "This month", cardQuarter: "This quarter", cardPeriod: "Selected period",
      trend: "Trend", grain_day: "day", grain_week: "week", grain_month: "month", grainLabel: "grain",
      mix: "Channel mix", heatmap: "By weekday and hour", heatVotes: "ratings", heatBad: "bad ratings (差评)",
      heatLabel: "{what} by weekday and hour ({tz}), {period}", trendLabel: "{scope}trend over {period}: public satisfaction and each channel's rate, per {grain}",
      mixLabel: "counted ratings per channel, {period}", bucket: "bucket", range: "dates", channel: "channel",
      loading: "loading…", weekdays: "Mon,Tue,Wed,Thu,Fri,Sat,Sun", intervalText: "95 % confidence interval {low}%–{high}%",
      samples: "n = {n}",
    },
  });

  const GRAINS = ["day", "week", "month"];
  const fmt = (key, vars) => Object.entries(vars).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, v), t(key));

  // "?hall=H1&window=A01&period=2026Q4" from an object (null values left out).
  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v != null && v !== "") q.set(k, v);
    return `?${q}`;
  }

  // The time zone of the policy, learnt from the first answer (cards' today/month/quarter).
  let zone = "Asia/Shanghai";
  let zoneKnown = false;
  function local(parts) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
      .format(new Date()).slice(0, parts);
  }
  function periods() {
    const day = local(10);
    const [y, m] = day.split("-");
    return [["today", "cardToday", day], ["month", "cardMonth", `${y}-${m}`],
      ["quarter", "cardQuarter", `${y}Q${Math.floor((Number(m) - 1) / 3) + 1}`]];
  }

  function card(key, label, body) {
    const r = body.result;
    return el("div", { className: "card score-card", dataset: { period: key, label: body.period.label, value: r.score.percent ?? "", n: r.counted_total } },
      el("div", { className: "label" }, label, " ", el("span", { className: "note" }, body.period.label)),
      el("div", { className: "score" }, pct(r.score)),
      el("div", { className: "note" }, fmt("samples", { n: r.counted_total }), " · ", t(r.score.basis),
        r.below_min_sample.length ? [" · ", el("span", { className: "flag" }, t("belowMin"))] : null));
  }

  // Cards: today, this month, this quarter (and the selected period when `withPeriod`) of a scope.
  // The policy's time zone is learnt once, from the first answer; later renders ask for every
  // card at once.
  async function scoreCards(node, st, scope, withPeriod) {
    const selected = () => api(`/scores${query({ ...scope, period: st.period })}`);
    let first = null;
    if (!zoneKnown) {
      first = await selected();
      zone = first.period.timezone || zone;
      zoneKnown = true;
    }
    const list = periods();
    const [bodies, chosen] = await Promise.all([
      Promise.all(list.map(([, , p]) => api(`/scores${query({ ...scope, period: p })}`))),
      first || !withPeriod ? first : selected(),
    ]);
    const cards = list.map(([key, label], i) => [key, t(label), bodies[i]]);
    if (withPeriod) cards.push(["selected", t("cardPeriod"), chosen]);
    fill(node, cards.map(([k, l, b]) => [k, l, b.period, b.result.score, b.result.counted_total, b.result.below_min_sample]),
      () => cards.map(([k, l, b]) => card(k, l, b)));
    return chosen;
  }

  const width = (node) => Math.round(node.clientWidth || node.parentElement?.clientWidth || 720);
  const weighted = (policy) => new Set(policy.groups.filter((g) => !String(g.weight).startsWith("0/") && g.weight !== "0").map((g) => g.name));

  // The trend's data for charts.line from a /trends answer.
  function trendSpec(body, scopeText, node) {
    const main = weighted(body.policy);
    // Every group with data in the period (weighted or not); a group without any has no line.
    const names = body.policy.groups.map((g) => g.name)
      .filter((n) => body.buckets.some((b) => b.groups.some((g) => g.name === n && g.has_data)));
    const series = [{
      key: "score", name: t("weighted"),
      points: body.buckets.map((b) => ({
        value: b.score?.percent ?? null, n: b.counted_total,
        hollow: b.groups.some((g) => main.has(g.name) && g.below_min_sample),
      })),
    }, ...names.map((name) => ({
      key: name, name: `${HALLRATE.groupName(name)} ${t("rate")}`,
      points: body.buckets.map((b) => {
        const g = b.groups.find((x) => x.name === name);
        return { value: g && g.has_data ? g.rate?.percent ?? null : null, n: g ? g.total : 0, hollow: Boolean(g && g.below_min_sample) };
      }),
    }))];
    return {
      id: "trend", width: width(node), bucketName: t("bucket"), rangeName: t("range"),
      label: fmt("trendLabel", { scope: scopeText, period: body.period.label, grain: t(`grain_${body.grain}`) }),
      buckets: body.buckets.map((b) => ({ label: b.label, range: b.from === b.to ? b.from : `${b.from}..${b.to}`, n: b.counted_total })),
      series,
    };
  }

  // The grain switch (real buttons; the grain is in the URL as &grain=week) and the trend chart.
  async function trendCard(node, switcher, st, scope, scopeText) {
    const grain = GRAINS.includes(st.params.get("grain")) ? st.params.get("grain") : "day";
    fill(switcher, [grain], () => el("span", { className: "seg", attrs: { role: "group", "aria-label": t("grainLabel") } },
      GRAINS.map((g) => el("button", {
        type: "button", dataset: { grain: g }, attrs: { "aria-pressed": String(g === grain) },
        onclick: () => HALLRATE.go(st.view, st.arg, { grain: g === "day" ? null : g }),
      }, t(`grain_${g}`)))));
    const body = await api(`/trends${query({ ...scope, period: st.period, grain })}`);
    const spec = trendSpec(body, scopeText, node);
    fill(node, spec, () => charts.line(spec));
    return body;
  }

  // The channel mix of a /scores answer: counted evaluations per channel, in the policy's order.
  function mixCard(node, body) {
    const order = body.result.policy.groups.flatMap((g) => g.channels);
    const channels = body.result.channels;
    const keys = [...order.filter((c) => c in channels), ...Object.keys(channels).filter((c) => !order.includes(c))];
    const spec = {
      id: "mix", width: width(node), itemName: t("channel"), valueName: t("count"),
      label: fmt("mixLabel", { period: body.period.label }),
      parts: keys.map((c) => ({ key: c, label: t(c), value: channels[c].total })),
    };
    fill(node, spec, () => charts.stack(spec));
  }

  // The heat map (GET /heatmap) with its votes / 差评 switch (&heat=bad in the URL).
  async function heatCard(node, switcher, st) {
    const mode = st.params.get("heat") === "bad" ? "bad" : "votes";
    fill(switcher, [mode], () => el("span", { className: "seg", attrs: { role: "group", "aria-label": t("heatmap") } },
      ["votes", "bad"].map((m) => el("button", {
        type: "button", dataset: { heat: m }, attrs: { "aria-pressed": String(m === mode) },
        onclick: () => HALLRATE.go(st.view, st.arg, { heat: m === "bad" ? "bad" : null }),
      }, t(m === "bad" ? "heatBad" : "heatVotes")))));
    const body = await api(`/heatmap${query({ hall: st.hall, period: st.period })}`);
    const what = t(mode === "bad" ? "heatBad" : "heatVotes");
    const days = t("weekdays").split(",");
    const spec = {
      id: "heatmap", width: width(node), bad: mode === "bad", valueName: what,
      label: `${fmt("heatLabel", { what, tz: body.timezone, period: body.period.label })} · ${t("total")} ${body.total} · ${t("heatBad")} ${body.bad_total}`,
      rows: body.weekdays.map((d) => days[d - 1]), weekdays: body.weekdays, cols: body.hours,
      values: mode === "bad" ? body.bad : body.votes, ns: body.votes,
    };
    fill(node, spec, () => charts.heatmap(spec));
    return body;
  }

  // Run a view's parts side by side; a failing part shows its error in its own box, and the
  // first error is raised afterwards (the status line shows it).
  async function settle(entries) {
    const results = await Promise.allSettled(entries.map(([, run]) => run()));
    let first = null;
    results.forEach((r, i) => {
      const box = entries[i][0];
      if (r.status === "rejected") {
        first = first || r.reason;
        if (box) { box.hallrateSig = null; box.replaceChildren(el("p", { className: "error" }, String(r.reason.message || r.reason))); }
      }
    });
    if (first) throw first;
    return results.map((r) => r.value);
  }

  HALLRATE.parts = { query, scoreCards, trendCard, mixCard, heatCard, settle, fmt, weighted, width };
})();
