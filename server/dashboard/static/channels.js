// hallrate dashboard: the 短信与回访 view (#/channels): the SMS panel (GET /sms/stats) and the phone
// call-back panel (GET /callbacks/stats) of the selected hall and period, each with a chart
// (HALLRATE.charts.counts): the SMS funnel sent -> delivered -> replied -> valid reply, and the
// call-backs' final outcomes (AAPOR I, R, NC, O, NE). Loaded after dashboard.js and charts.js, whose
// TEXT, $, t, el, num, pct, clock, api and charts it uses; every value becomes a text node.
"use strict";

HALLRATE.text({
  zh: {
    smsPanel: "短信评价 SMS", smsSent: "发送", smsDelivered: "送达", smsReplied: "回复", smsReplyRate: "回复率",
    smsValidRate: "有效回复率", smsToday: "今日", smsPeriod: "本期",
    cbPanel: "电话回访 Phone call-backs", cbPlanned: "计划", cbReserves: "备用（已启用）", cbAttempted: "已拨打",
    cbCompleted: "有效", cbClosed: "已结束", cbOpen: "待拨打", cbOverdue: "逾期", cbRate: "指标", cbValue: "比率",
    cbFraction: "分子/分母", cbFormula: "公式", cbAgent: "回访员", cbAttempts: "拨打次数", cbFirst: "首次", cbLast: "最近",
    response_rate: "应答率", refusal_rate: "拒访率", contact_rate: "接触率", cbSatisfaction: "电话回访满意率",
    cbLegend: "I＝有效；R＝拒访；NC＝无人接听＋占线；O＝其他；NE（空号/停机、非本人、已回访）不计入分母。按每条回访的最终结果统计。",
    cbSatFormula: "满意（{levels}）÷ 电话回访评价数",
    smsFunnel: "{period}短信评价漏斗：发送、送达、回复、有效回复", smsRated: "有效回复", smsStage: "环节", smsTexts: "条数",
    cbOutcomes: "{period}电话回访最终结果（按每条回访的最后一次拨打）", cbOutcome: "结果", cbEntries: "条数",
    aapor_I: "有效 I", aapor_R: "拒访 R", aapor_NC: "未接通 NC", aapor_O: "其他 O", aapor_NE: "不计入 NE",
  },
  en: {
    smsPanel: "SMS ratings (短信评价)", smsSent: "sent", smsDelivered: "delivered", smsReplied: "replied",
    smsReplyRate: "reply rate", smsValidRate: "valid-reply rate", smsToday: "today", smsPeriod: "period",
    cbPanel: "Phone call-backs (电话回访)", cbPlanned: "planned", cbReserves: "reserves (opened)", cbAttempted: "attempted",
    cbCompleted: "completed", cbClosed: "closed", cbOpen: "open", cbOverdue: "overdue", cbRate: "figure", cbValue: "rate",
    cbFraction: "numerator/denominator", cbFormula: "formula", cbAgent: "agent", cbAttempts: "attempts", cbFirst: "first",
    cbLast: "last", response_rate: "response rate", refusal_rate: "refusal rate", contact_rate: "contact rate",
    cbSatisfaction: "phone satisfaction (满意率)",
    cbLegend: "I = completed; R = refused; NC = no answer + busy; O = other; NE (invalid number, not the citizen, already called) is in no denominator. Each entry counts by its final outcome.",
    cbSatFormula: "satisfied ({levels}) ÷ phone evaluations",
    smsFunnel: "SMS funnel, {period}: sent, delivered, replied, valid replies", smsRated: "valid replies",
    smsStage: "stage", smsTexts: "texts",
    cbOutcomes: "Phone call-backs' final outcomes, {period} (each entry by its latest attempt)", cbOutcome: "outcome",
    cbEntries: "entries", aapor_I: "completed I", aapor_R: "refused R", aapor_NC: "no contact NC", aapor_O: "other O",
    aapor_NE: "not eligible NE",
  },
});

// The SMS panel (GET /sms/stats): today's and the period's figures, and one row per window.
function smsCells(f) {
  return [f.sent, f.delivered, f.replied].map((n) => el("td", { className: "num" }, n))
    .concat([el("td", { className: "num" }, pct(f.reply_rate)), el("td", { className: "num" }, pct(f.valid_reply_rate))]);
}

async function refreshSms(hall, period) {
  const q = `hall=${encodeURIComponent(hall)}`;
  const [day, span] = await Promise.all([
    api(`/sms/stats?${q}&period=${today()}`),
    api(`/sms/stats?${q}&period=${encodeURIComponent(period)}&by=window`),
  ]);
  $("#sms-summary tbody").replaceChildren(
    el("tr", { dataset: { bucket: "today" } }, el("th", {}, t("smsToday")), smsCells(day.total)),
    el("tr", { dataset: { bucket: "period" } }, el("th", {}, `${t("smsPeriod")} ${span.period.label}`), smsCells(span.total)));
  $("#sms-windows tbody").replaceChildren(...span.items.map((item) =>
    el("tr", { dataset: { window: item.window ?? "" } }, el("td", {}, item.window ?? "—"), smsCells(item))));
  smsFunnel(span);
}

// A chart's box under a panel's heading (made once).
function chartNode(panel, id) {
  let node = document.getElementById(id);
  if (!node) {
    node = el("div", { className: "chart", id });
    $(`${panel} h2`).after(node);
  }
  return node;
}

const chartWidth = (node) => Math.round(node.clientWidth || node.parentElement?.clientWidth || 720);

// The period's funnel: texts sent, delivered, replied, rated (valid replies); the two rates are the
// API's own percent strings (reply_rate, valid_reply_rate), shown beside their bars.
function smsFunnel(span) {
  const f = span.total;
  const node = chartNode("#sms", "sms-funnel");
  const share = (rate) => (rate ? rate.percent : null);
  const spec = {
    id: "sms-funnel", width: chartWidth(node), itemName: t("smsStage"), valueName: t("smsTexts"),
    label: t("smsFunnel").replace("{period}", span.period.label),
    items: [
      { key: "sent", label: t("smsSent"), value: f.sent },
      { key: "delivered", label: t("smsDelivered"), value: f.delivered, n: f.sent },
      { key: "replied", label: t("smsReplied"), value: f.replied, n: f.sent, share: share(f.reply_rate) },
      { key: "rated", label: t("smsRated"), value: f.rated, n: f.sent, share: share(f.valid_reply_rate) },
    ],
  };
  HALLRATE.fill(node, spec, () => HALLRATE.charts.counts(spec));
}

// The call-backs' final outcomes by AAPOR class; the response and refusal rates (I and R over
// I + R + NC + O) are the API's percent strings; NE is in no denominator.
const AAPOR = ["I", "R", "NC", "O", "NE"];
function cbOutcomes(s) {
  const node = chartNode("#callbacks", "cb-outcomes");
  const base = s.rates.response_rate.denominator;
  const shares = { I: s.rates.response_rate.rate, R: s.rates.refusal_rate.rate };
  const spec = {
    id: "cb-outcomes", width: chartWidth(node), itemName: t("cbOutcome"), valueName: t("cbEntries"),
    label: t("cbOutcomes").replace("{period}", s.period.label),
    items: AAPOR.map((c) => ({
      key: c, label: t(`aapor_${c}`), value: s.aapor[c] ?? 0, n: c === "NE" ? (s.aapor[c] ?? 0) : base,
      share: shares[c] ? shares[c].percent : null,
    })),
  };
  HALLRATE.fill(node, spec, () => HALLRATE.charts.counts(spec));
}

// The phone call-back panel (GET /callbacks/stats): entry counts, the three rates with their
// formulas (cell text and tooltip), the phone 满意率 as /scores computes it, and the agents.
const CB_RATES = ["response_rate", "refusal_rate", "contact_rate"];

async function refreshCallbacks(hall, period) {
  const s = await api(`/callbacks/stats?hall=${encodeURIComponent(hall)}&period=${encodeURIComponent(period)}`);
  $("#cb-summary tbody").replaceChildren(el("tr", { dataset: { bucket: "period" } },
    num(s.planned), num(`${s.reserves} (${s.activated_reserves})`), num(s.attempted), num(s.completed),
    num(s.closed), num(s.open), num(s.overdue)));
  const legend = t("cbLegend");
  const rows = CB_RATES.map((name) => {
    const r = s.rates[name];
    return el("tr", { dataset: { rate: name }, title: `${r.formula} — ${legend}` },
      el("th", {}, t(name)), num(pct(r.rate)), num(`${r.numerator}/${r.denominator}`),
      el("td", { className: "formula" }, r.formula));
  });
  const sat = s.satisfaction;
  const levels = sat.satisfied_levels.map(levelName).join(t("enumSep"));
  const satFormula = t("cbSatFormula").replace("{levels}", levels);
  rows.push(el("tr", { dataset: { rate: "satisfaction" }, title: satFormula },
    el("th", {}, t("cbSatisfaction")), num(pct(sat.rate)), num(`${sat.satisfied}/${sat.total}`),
    el("td", { className: "formula" }, satFormula,
      sat.below_min_sample ? [" · ", el("span", { className: "flag" }, t("belowMin"))] : null)));
  $("#cb-rates tbody").replaceChildren(...rows);
  $("#cb-legend").textContent = legend;
  $("#cb-agents tbody").replaceChildren(...s.agents.map((a) =>
    el("tr", { dataset: { agent: a.username } }, el("td", {}, a.username), num(a.attempts), num(a.completed),
      el("td", {}, clock(a.first_at)), el("td", {}, clock(a.last_at)))));
  cbOutcomes(s);
}

HALLRATE.views.channels = {
  title: "navChannels",
  render: async (section, st) => {
    await Promise.all([refreshSms(st.hall, st.period), refreshCallbacks(st.hall, st.period)]);
  },
};
