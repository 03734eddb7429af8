// hallrate dashboard: the 案件 view (#/cases), the cases panel (GET /api/v1/cases/figures). Loaded after dashboard.js, whose
// TEXT, $, t, el, num, pct and api it uses. The two 差评 rates first, then one row per case kind.
// Every value from the API becomes a text node (el), never HTML.
"use strict";

Object.assign(TEXT.zh, {
  casePanel: "案件 Cases", caseCallback: "差评回访率", caseRectify: "整改率",
  caseCallbackOnTime: "及时回访率", caseRectifyOnTime: "按期整改率", caseKind: "类型",
  caseOpened: "受理", caseOpen: "未办结", caseOverdue: "逾期", caseExtended: "延期", caseEscalated: "督办",
  caseClosed: "办结", caseOnTime: "按期办结", caseMedianDays: "办结用时中位数（工作日）",
  caseMedianHours: "（{h} 小时）", caseSatisfaction: "结果满意率", caseWithdrawn: "申诉剔除",
  kind_bad_rating: "差评", kind_complaint: "吐槽找茬", kind_cannot_do: "办不成事",
});
Object.assign(TEXT.en, {
  casePanel: "Cases (案件)", caseCallback: "bad-rating call-back rate", caseRectify: "rectification rate",
  caseCallbackOnTime: "on time", caseRectifyOnTime: "on time", caseKind: "kind",
  caseOpened: "opened", caseOpen: "open", caseOverdue: "overdue", caseExtended: "extended",
  caseEscalated: "escalated", caseClosed: "closed", caseOnTime: "closed on time",
  caseMedianDays: "median to close (working days)", caseMedianHours: " ({h} h)",
  caseSatisfaction: "satisfied with result", caseWithdrawn: "withdrawn on appeal",
  kind_bad_rating: "bad rating (差评)", kind_complaint: "complaint (吐槽找茬)", kind_cannot_do: "could not get it done (办不成事)",
});

const CASE_KINDS = ["bad_rating", "complaint", "cannot_do"];
const words = (text) => (text ? text[lang] || text.zh : "");

// A rate's cell text: "100.00%" and "2/2", or "—" with the null reason.
function caseRate(r) {
  const fraction = `${r.numerator}/${r.denominator}`;
  return r.rate ? [pct(r.rate), fraction] : ["—", words(r.null_reason)];
}

function caseHeadline(name, label, onTimeName, onTimeLabel, total) {
  const r = total[name];
  const o = total[onTimeName];
  const [value, detail] = caseRate(r);
  const [onTime, onTimeDetail] = caseRate(o);
  return el("div", { dataset: { rate: name }, title: words(r.formula) },
    el("div", { className: "label" }, t(label)),
    el("div", { className: "score", dataset: { value: "" } }, value),
    el("div", { className: "note fraction" }, detail),
    el("div", { className: "note", dataset: { rate: onTimeName }, title: words(o.formula) },
      `${t(onTimeLabel)} ${onTime} (${onTimeDetail})`),
    el("div", { className: "note formula" }, words(r.formula)));
}

function caseRow(kind, k) {
  const median = k.median_days_to_close.value ?? "—";
  const hours = k.median_hours_to_close.value ?? "—";
  const [sat, satDetail] = caseRate(k.satisfaction.rate);
  return el("tr", { dataset: { kind } },
    el("th", {}, t(`kind_${kind}`)), num(k.opened), num(k.open), num(k.overdue), num(k.extended),
    num(k.escalated), num(k.closed), num(`${k.closed_on_time} (${caseRate(k.closed_on_time_rate)[0]})`),
    el("td", { className: "num", title: words(k.median_days_to_close.formula) }, median + t("caseMedianHours").replace("{h}", hours)),
    el("td", { className: "num", title: words(k.satisfaction.rate.formula) }, `${sat} (${satDetail})`));
}

async function refreshCaseFigures(hall, period) {
  const f = await api(`/cases/figures?hall=${encodeURIComponent(hall)}&period=${encodeURIComponent(period)}`);
  const total = f.total;
  $("#case-rates").replaceChildren(
    caseHeadline("callback_rate", "caseCallback", "callback_on_time_rate", "caseCallbackOnTime", total),
    caseHeadline("rectification_rate", "caseRectify", "rectification_on_time_rate", "caseRectifyOnTime", total));
  $("#case-kinds tbody").replaceChildren(...CASE_KINDS.map((kind) => caseRow(kind, total.kinds[kind])));
  const bad = total.kinds.bad_rating;
  $("#case-note").textContent = `${t("caseWithdrawn")}: ${bad.withdrawn} · ${words(f.definitions.overdue)}`;
}

HALLRATE.views.cases = {
  title: "navCases",
  render: (section, st) => refreshCaseFigures(st.hall, st.period),
};
