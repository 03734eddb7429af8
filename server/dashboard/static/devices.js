// hallrate dashboard: the 设备 view (#/devices), the device table (GET /api/v1/devices/health). Loaded
// after dashboard.js, whose TEXT, $, t, el and api it uses. Its filters live in the view's URL
// (#/devices?hall=H1&dev_online=false&dev_kind=…&dev_version=…&dev_alarm=…), so a filtered view can
// be bookmarked or shared; a former link /dashboard/?dev_alarm=jam is moved into the hash.
"use strict";

Object.assign(TEXT.zh, {
  devPanel: "设备 Devices", devFilterOnline: "状态", devFilterKind: "类型", devFilterVersion: "版本",
  devFilterAlarm: "告警", devAll: "全部", devOnline: "在线", devOffline: "离线", devDevice: "设备",
  devKind: "类型", devWindow: "窗口", devState: "状态", devVersion: "版本", devSlot: "分区",
  devOutbox: "待发送", devLastSeen: "最后在线", devReset: "重启原因", devAlarms: "告警",
  devProbation: "试运行", devNone: "暂无设备", devOldest: "最早", devSince: "自",
  devSummary: "在线 {online} / 共 {total} 台 · 有告警 {alarms} 台", devShown: "（筛选后显示 {n} 台）",
  alarm_jam: "投票口堵塞", alarm_tamper: "防拆报警", alarm_lid_open: "箱盖打开", alarm_low_heap: "内存不足",
  alarm_rolled_back: "已自动回滚", alarm_self_test: "自检失败", alarm_offline: "开放时间离线",
});
Object.assign(TEXT.en, {
  devPanel: "Devices (设备)", devFilterOnline: "State", devFilterKind: "Kind", devFilterVersion: "Version",
  devFilterAlarm: "Alarm", devAll: "all", devOnline: "online", devOffline: "offline", devDevice: "Device",
  devKind: "Kind", devWindow: "Window", devState: "State", devVersion: "Version", devSlot: "Slot",
  devOutbox: "Outbox", devLastSeen: "Last seen", devReset: "Reset cause", devAlarms: "Alarms",
  devProbation: "on probation", devNone: "no devices", devOldest: "oldest", devSince: "since",
  devSummary: "{online} online / {total} total · {alarms} with alarms", devShown: " ({n} shown by the filters)",
  alarm_jam: "jam", alarm_tamper: "tamper", alarm_lid_open: "lid open", alarm_low_heap: "low heap",
  alarm_rolled_back: "rolled back", alarm_self_test: "self-test failed", alarm_offline: "offline in opening hours",
});

const DEV_FILTERS = ["online", "kind", "version", "alarm"];
const DEV_ALARMS = ["jam", "tamper", "lid_open", "low_heap", "rolled_back", "self_test", "offline"];

// The filter controls from the view's parameters, and the parameters from the controls.
function devFiltersFromState(params) {
  for (const name of DEV_FILTERS) {
    const control = $(`#dev-${name}`);
    if (control !== document.activeElement || control.tagName === "SELECT") control.value = params.get(`dev_${name}`) ?? "";
  }
}

function devFiltersToUrl() {
  const extra = {};
  for (const name of DEV_FILTERS) extra[`dev_${name}`] = $(`#dev-${name}`).value.trim() || null;
  HALLRATE.go("devices", null, extra);
}

function devAgo(iso) {
  if (!iso) return "—";
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return clock(iso) + (lang === "zh" ? `（${s} 秒前）` : ` (${s} s ago)`);
}

function devRow(d) {
  const since = Object.fromEntries((d.alerts || []).map((a) => [a.alarm, a.first_seen]));
  const alarms = d.alarms.map((a) => el("span", { className: "flag alarm", dataset: { alarm: a },
    title: since[a] ? `${t("devSince")} ${clock(since[a])}` : "" }, t(`alarm_${a}`)));
  const outbox = d.outbox == null ? "—"
    : (d.outbox_oldest_s != null ? `${d.outbox} (${t("devOldest")} ${d.outbox_oldest_s} s)` : String(d.outbox));
  return el("tr", { dataset: { device: d.device, online: String(d.online) } },
    el("td", {}, d.device), el("td", {}, d.kind ? t(d.kind) : "—"), el("td", {}, d.window || "—"),
    el("td", { className: d.online ? "ok" : "flag" }, t(d.online ? "devOnline" : "devOffline")),
    el("td", {}, d.fw || "—", d.probation ? [" ", el("span", { className: "flag" }, t("devProbation"))] : null),
    el("td", {}, d.slot || "—"), el("td", { className: "num" }, outbox),
    el("td", {}, devAgo(d.last_seen)), el("td", {}, d.reset_cause || "—"),
    el("td", { className: "alarms" }, alarms.length ? alarms.flatMap((a, i) => (i ? [" ", a] : [a])) : "—"));
}

// The summary line counts every device of the hall, whatever the filters: n online / n total,
// n with at least one alarm (and how many rows the filters leave, when some are set).
function devSummary(all, shown, filtered) {
  const counts = {
    online: all.filter((d) => d.online).length,
    total: all.length,
    alarms: all.filter((d) => d.alarms && d.alarms.length).length,
  };
  let text = Object.entries(counts).reduce((s, [k, v]) => s.replace(`{${k}}`, v), t("devSummary"));
  if (filtered) text += t("devShown").replace("{n}", shown.length);
  const line = $("#dev-summary");
  line.textContent = text;
  Object.assign(line.dataset, { online: counts.online, total: counts.total, alarms: counts.alarms, shown: shown.length });
}

async function refreshDevices(hall, params) {
  devFiltersFromState(params);
  const query = new URLSearchParams({ hall });
  for (const name of DEV_FILTERS) {
    const value = (params.get(`dev_${name}`) ?? "").trim();
    if (value) query.set(name, value);
  }
  const filtered = [...query.keys()].length > 1;
  const [data, all] = await Promise.all([
    api(`/devices/health?${query}`),
    filtered ? api(`/devices/health?${new URLSearchParams({ hall })}`) : null,
  ]);
  devSummary((all || data).devices, data.devices, filtered);
  const rows = data.devices.map(devRow);
  if (!rows.length) rows.push(el("tr", {}, el("td", { colSpan: 10, className: "note" }, t("devNone"))));
  $("#devices-table tbody").replaceChildren(...rows);
}

function setupDeviceFilters() {
  $("#dev-filters").after(el("p", { className: "summary", id: "dev-summary", attrs: { "aria-live": "polite" } }));
  const alarm = $("#dev-alarm");
  alarm.replaceChildren(el("option", { value: "", dataset: { i18n: "devAll" } }, t("devAll")),
    ...DEV_ALARMS.map((a) => el("option", { value: a, dataset: { i18n: `alarm_${a}` } }, t(`alarm_${a}`))));
  $("#dev-filters").addEventListener("change", devFiltersToUrl);
  $("#dev-filters").addEventListener("submit", (e) => { e.preventDefault(); devFiltersToUrl(); });
}

setupDeviceFilters();
HALLRATE.views.devices = {
  title: "navDevices",
  render: (section, st) => refreshDevices(st.hall, st.params),
};
