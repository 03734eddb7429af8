// hallrate dashboard charts (HALLRATE.charts): line (trend), bars (comparison with 95 % whiskers),
// heatmap (weekday x hour) and stack (channel mix). Own small SVG code, no library.
//
// Each function is pure: data in, a DOM element out (the SVG built with createElementNS, every
// string a text node: no innerHTML). Every mark carries the number it shows as data-value, its
// sample size as data-n and its category as data-label (what the tests compare with the API);
// the SVG has role="img" and an aria-label, can be focused and read mark by mark with the arrow
// keys (the value is written under the chart), and comes with a data table in a <details>.
"use strict";

(() => {
  const { el, t } = HALLRATE;
  const SVG = "http://www.w3.org/2000/svg";

  HALLRATE.text({
    zh: {
      dataTable: "数据表", chartKeys: "用方向键逐项读数", nBars: "柱：样本数 n", hollowKey: "空心点：样本不足（n 小于最低样本数）",
      share: "占比", whiskerKey: "横线：95% 置信区间", weakKey: "灰色：样本不足", colourScale: "颜色深浅：数量",
    },
    en: {
      dataTable: "Data table", chartKeys: "arrow keys read the marks one by one", nBars: "bars: sample size n",
      hollowKey: "hollow point: sample too small (n below the minimum sample)", share: "share",
      whiskerKey: "line: 95 % confidence interval", weakKey: "grey: sample too small", colourScale: "shade: count",
    },
  });

  // Colours: each passes 3:1 against white; series also differ by dash pattern and the legend
  // names them, so no reading depends on colour alone.
  const COLOURS = {
    score: "#1d2733", on_site: "#0b57d0", sms: "#b35900", phone: "#1a7f37", online: "#7b3fb2",
    system_default: "#56657a", evaluator: "#0b57d0", ballot_box: "#3b6cc9",
  };
  const DASHES = ["", "6 3", "2 3", "8 3 2 3", "4 4", "1 2"];
  const BLUES = ["#dbe8f6", "#a9cbe8", "#6aa3d4", "#2f74b5", "#0b4480"];
  const REDS = ["#fde3da", "#f9b19b", "#ee6a4f", "#c9252c", "#8f0b15"];
  const colour = (key, i) => COLOURS[key] || ["#0b57d0", "#b35900", "#1a7f37", "#7b3fb2", "#8a5a00"][i % 5];

  function svgEl(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value != null && value !== false) node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child == null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const mark = (tag, attrs, tip) => svgEl(tag, { ...attrs, "data-tip": tip }, svgEl("title", {}, tip));
  const fmt = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

  // The focusable SVG: pointer over a mark or the arrow keys write the mark's text in `tip`.
  function explorable(svg, tip, cols) {
    const marks = () => [...svg.querySelectorAll("[data-tip]")];
    let index = -1;
    const show = (i) => {
      const all = marks();
      if (!all.length) return;
      all.forEach((m) => m.classList.remove("hot"));
      index = (i + all.length) % all.length;
      all[index].classList.add("hot");
      tip.textContent = all[index].dataset.tip;
    };
    svg.setAttribute("tabindex", "0");
    svg.addEventListener("pointerover", (e) => {
      const m = e.target.closest && e.target.closest("[data-tip]");
      if (m) show(marks().indexOf(m));
    });
    svg.addEventListener("focus", () => { if (index < 0) tip.textContent = t("chartKeys"); });
    svg.addEventListener("blur", () => marks().forEach((m) => m.classList.remove("hot")));
    svg.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols || 1, ArrowUp: -(cols || 1) }[e.key];
      if (step == null) return;
      e.preventDefault();
      show(index < 0 ? 0 : index + step);
    });
  }

  // The chart's box: legend, SVG, the line the marks are read into, and the data table.
  function box(kind, id, svg, legend, table, cols) {
    const tip = el("p", { className: "tip", attrs: { "aria-live": "polite" } });
    explorable(svg, tip, cols);
    const details = el("details", { dataset: { keep: `${id}-table` } },
      el("summary", {}, t("dataTable")), el("div", { className: "scroll" }, table));
    return el("div", { className: "chart-box", dataset: { chart: kind, chartId: id } }, legend, svg, tip, details);
  }

  function table(head, rows) {
    return el("table", { className: "data" },
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { attrs: { scope: "col" } }, h)))),
      el("tbody", {}, rows.map(([first, ...cells]) =>
        el("tr", {}, el("th", { attrs: { scope: "row" } }, first), cells.map((c) => el("td", { className: "num" }, c))))));
  }

  function swatch(colourValue, dash, hollow) {
    return svgEl("svg", { width: 26, height: 12, "aria-hidden": "true", class: "key-line" },
      svgEl("line", { x1: 1, y1: 6, x2: 25, y2: 6, stroke: colourValue, "stroke-width": 2.5, "stroke-dasharray": dash || null }),
      hollow == null ? null : svgEl("circle", { cx: 13, cy: 6, r: 4, fill: hollow ? "#fff" : colourValue, stroke: colourValue, "stroke-width": 2 }));
  }

  const legendList = (items) => el("ul", { className: "legend" }, items.map((i) => el("li", {}, i)));

  // ---------------------------------------------------------------- line: a time series
  // spec: {id, label, width, buckets: [{label, range, n}], series: [{key, name,
  //        points: [{value: "93.33" | null, n, hollow}]}]}; value strings are the API's percents.
  function line(spec) {
    const W = Math.max(300, spec.width || 720);
    const pad = { l: 42, r: 10, t: 10 };
    const lineH = 190, gap = 22, nH = 46, bottom = 30;
    const H = pad.t + lineH + gap + nH + bottom;
    const plotW = W - pad.l - pad.r;
    const count = spec.buckets.length;
    const band = count ? plotW / count : plotW;
    const x = (i) => pad.l + (i + 0.5) * band;
    const values = spec.series.flatMap((s) => s.points.map((p) => (p.value == null ? null : Number(p.value)))).filter((v) => v != null);
    const low = values.length ? Math.min(...values) : 0;
    const yMin = Math.max(0, Math.floor((low - 1) / 10) * 10);
    const y = (v) => pad.t + (100 - v) / (100 - yMin || 100) * lineH;
    const nMax = Math.max(1, ...spec.buckets.map((b) => b.n || 0));
    const nTop = pad.t + lineH + gap;
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": spec.label, class: "line-chart" });
    const step = (100 - yMin) > 50 ? 20 : 10;
    for (let v = 100; v >= yMin; v -= step) {
      svg.append(svgEl("line", { class: "grid", x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v) }),
        svgEl("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end" }, `${v}%`));
    }
    svg.append(svgEl("line", { class: "axis", x1: pad.l, x2: W - pad.r, y1: nTop + nH, y2: nTop + nH }),
      svgEl("text", { x: pad.l - 6, y: nTop + 10, "text-anchor": "end" }, "n"),
      svgEl("text", { x: pad.l - 6, y: nTop + nH, "text-anchor": "end" }, "0"));
    const nBars = svgEl("g", { class: "n-bars" });
    const labelEvery = Math.max(1, Math.ceil((count * 74) / plotW));
    spec.buckets.forEach((b, i) => {
      const h = ((b.n || 0) / nMax) * nH;
      nBars.append(mark("rect", {
        class: "n-bar", x: x(i) - Math.max(1, band * 0.3), width: Math.max(2, band * 0.6), y: nTop + nH - h, height: h,
        fill: "#7d8c9b", "data-label": b.label, "data-value": b.n, "data-n": b.n,
      }, `${b.label}${b.range ? ` (${b.range})` : ""} · n = ${b.n}`));
      if (i % labelEvery === 0) svg.append(svgEl("text", { x: x(i), y: H - 10, "text-anchor": "middle" }, b.label));
    });
    svg.append(svgEl("text", { x: W - pad.r, y: nTop + 10, "text-anchor": "end" }, `max ${nMax}`), nBars);
    // The first series (the score) is drawn last, on top of the groups' lines.
    [...spec.series.entries()].reverse().forEach(([si, s]) => {
      const c = colour(s.key, si);
      const g = svgEl("g", { class: "series", "data-series": s.key });
      let d = "";
      let open = false;
      s.points.forEach((p, i) => {
        if (p.value == null) { open = false; return; }
        d += `${open ? "L" : "M"}${x(i).toFixed(1)},${y(Number(p.value)).toFixed(1)}`;
        open = true;
      });
      g.append(svgEl("path", { d, fill: "none", stroke: c, "stroke-width": si ? 2 : 3, "stroke-dasharray": DASHES[si % DASHES.length] || null }));
      s.points.forEach((p, i) => {
        if (p.value == null) return;
        const b = spec.buckets[i];
        g.append(mark("circle", {
          class: `point${p.hollow ? " hollow" : ""}`, cx: x(i), cy: y(Number(p.value)), r: count > 60 ? 3 : 4.5,
          fill: p.hollow ? "#fff" : c, stroke: c, "stroke-width": 2,
          "data-series": s.key, "data-label": b.label, "data-value": p.value, "data-n": p.n, "data-hollow": p.hollow ? "true" : null,
        }, `${s.name} · ${b.label} · ${p.value}% · n = ${p.n}${p.hollow ? ` · ${t("belowMin")}` : ""}`));
      });
      svg.append(g);
    });
    const legend = legendList([
      ...spec.series.map((s, si) => [swatch(colour(s.key, si), DASHES[si % DASHES.length]), s.name]),
      [swatch("#1d2733", "", true), t("hollowKey")],
      [el("span", { className: "key n-key" }), t("nBars")],
    ]);
    const head = [spec.bucketName || "", spec.rangeName || "", "n", ...spec.series.map((s) => s.name)];
    const rows = spec.buckets.map((b, i) => [b.label, b.range || "", String(b.n),
      ...spec.series.map((s) => {
        const p = s.points[i];
        return p.value == null ? "—" : `${p.value}%${p.hollow ? ` (${t("belowMin")}, n=${p.n})` : ` (n=${p.n})`}`;
      })]);
    return box("line", spec.id, svg, legend, table(head, rows));
  }

  // ---------------------------------------------------------------- bars: a comparison
  // spec: {id, label, width, items: [{key, label, value: "93.33" | null, low, high, n, weak}]}
  function bars(spec) {
    const W = Math.max(300, spec.width || 720);
    const rowH = 28, top = 8, bottom = 26;
    const labelW = W < 480 ? 88 : 150;
    const valueW = W < 480 ? 96 : 150;
    const plotW = W - labelW - valueW;
    const H = top + spec.items.length * rowH + bottom;
    const x = (v) => labelW + (Number(v) / 100) * plotW;
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": spec.label, class: "bar-chart" });
    for (let v = 0; v <= 100; v += 20) {
      svg.append(svgEl("line", { class: "grid", x1: x(v), x2: x(v), y1: top, y2: H - bottom }),
        svgEl("text", { x: x(v), y: H - 8, "text-anchor": "middle" }, `${v}%`));
    }
    const maxChars = Math.floor(labelW / 8);
    spec.items.forEach((item, i) => {
      const y0 = top + i * rowH;
      const mid = y0 + rowH / 2;
      const short = item.label.length > maxChars ? `${item.label.slice(0, maxChars - 1)}…` : item.label;
      svg.append(svgEl("text", { x: labelW - 6, y: mid + 4, "text-anchor": "end", class: "bar-label" }, short, svgEl("title", {}, item.label)));
      const fill = item.weak ? "#8a939c" : "#0b57d0";  // grey, still 3:1 against white
      const interval = item.low != null ? ` · 95%: ${item.low}–${item.high}%` : "";
      const tip = `${item.label} · ${item.value == null ? t("none") : `${item.value}%`}${interval} · n = ${item.n}${item.weak ? ` · ${t("belowMin")}` : ""}`;
      svg.append(mark("rect", {
        class: `bar${item.weak ? " weak" : ""}`, x: labelW, y: y0 + 6, height: rowH - 12,
        width: item.value == null ? 0 : Math.max(0, x(item.value) - labelW), fill,
        "data-key": item.key, "data-label": item.label, "data-value": item.value ?? "", "data-n": item.n,
        "data-low": item.low ?? null, "data-high": item.high ?? null, "data-weak": item.weak ? "true" : null,
      }, tip));
      if (item.low != null && item.high != null) {
        const a = x(item.low), b = x(item.high);
        svg.append(svgEl("g", { class: "whisker", "data-key": item.key, "data-low": item.low, "data-high": item.high, stroke: "#1d2733", "stroke-width": 1.5 },
          svgEl("line", { x1: a, x2: b, y1: mid, y2: mid }),
          svgEl("line", { x1: a, x2: a, y1: mid - 5, y2: mid + 5 }), svgEl("line", { x1: b, x2: b, y1: mid - 5, y2: mid + 5 })));
      }
      const text = item.value == null ? "—" : `${item.value}%`;
      svg.append(svgEl("text", { x: labelW + plotW + 6, y: mid + 4, class: "bar-value", fill: "#1d2733" },
        text, item.weak ? svgEl("tspan", { fill: "#8a5a00", dx: 4 }, t("belowMin")) : null));
    });
    const legend = legendList([
      [el("span", { className: "key bar-key" }), spec.valueName || t("score")],
      [swatch("#1d2733", ""), t("whiskerKey")],
      [el("span", { className: "key weak-key" }), t("weakKey")],
    ]);
    const head = [spec.itemName || "", spec.valueName || t("score"), "95%", "n", t("flags")];
    const rows = spec.items.map((item) => [item.label, item.value == null ? "—" : `${item.value}%`,
      item.low != null ? `${item.low}–${item.high}%` : "—", String(item.n), item.weak ? t("belowMin") : ""]);
    return box("bars", spec.id, svg, legend, table(head, rows));
  }

  // ---------------------------------------------------------------- heatmap: weekday x hour
  // spec: {id, label, width, rows: ["周一", …], cols: [0..23], values: [[…24] x 7], ns: same shape
  //        (the votes: n of each cell), bad: true for the 差评 map, valueName}
  function heatmap(spec) {
    const W = Math.max(300, spec.width || 720);
    const labelW = 40, top = 18, right = 4;
    const cw = (W - labelW - right) / spec.cols.length;
    const ch = Math.max(16, Math.min(28, cw));
    const H = top + spec.rows.length * ch + 8;
    const max = Math.max(0, ...spec.values.flat());
    const palette = spec.bad ? REDS : BLUES;
    const bin = (v) => (v <= 0 || max <= 0 ? -1 : Math.min(palette.length - 1, Math.floor(((v - 1) / max) * palette.length)));
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": spec.label, class: "heat-chart", "data-map": spec.bad ? "bad" : "votes" });
    const every = cw >= 24 ? 2 : cw >= 14 ? 3 : 6;
    spec.cols.forEach((h, j) => {
      if (j % every === 0) svg.append(svgEl("text", { x: labelW + j * cw + cw / 2, y: 12, "text-anchor": "middle" }, h));
    });
    spec.rows.forEach((name, i) => {
      svg.append(svgEl("text", { x: labelW - 6, y: top + i * ch + ch / 2 + 4, "text-anchor": "end" }, name));
      spec.cols.forEach((h, j) => {
        const v = spec.values[i][j];
        const n = spec.ns[i][j];
        const k = bin(v);
        const hours = `${String(h).padStart(2, "0")}:00–${String(h + 1).padStart(2, "0")}:00`;
        const tip = spec.bad ? `${name} ${hours} · ${spec.valueName} ${v} / ${n}` : `${name} ${hours} · ${spec.valueName} ${v}`;
        const x0 = labelW + j * cw, y0 = top + i * ch;
        svg.append(mark("rect", {
          class: "cell", x: x0 + 1, y: y0 + 1, width: Math.max(1, cw - 2), height: ch - 2, rx: 2,
          fill: k < 0 ? "#f1f4f7" : palette[k], "data-weekday": spec.weekdays ? spec.weekdays[i] : i + 1, "data-hour": h,
          "data-label": `${name} ${hours}`, "data-value": v, "data-n": n,
        }, tip));
        if (v > 0 && cw >= 22) {
          svg.append(svgEl("text", { x: x0 + cw / 2, y: y0 + ch / 2 + 4, "text-anchor": "middle", class: "cell-value",
            fill: k >= 3 ? "#fff" : "#1d2733", "aria-hidden": "true" }, v));
        }
      });
    });
    const steps = palette.map((c, k) => {
      const lo = Math.floor((k * max) / palette.length) + 1;
      const hi = Math.floor(((k + 1) * max) / palette.length);
      return lo <= hi ? [el("span", { className: `key heat-${spec.bad ? "bad" : "votes"}-${k}` }), lo === hi ? `${lo}` : `${lo}–${hi}`] : null;
    }).filter(Boolean);
    const legend = legendList([[t("colourScale"), ":"], [el("span", { className: "key heat-zero" }), "0"], ...steps]);
    const head = ["", ...spec.cols.map(String)];
    const rows = spec.rows.map((name, i) => [name, ...spec.cols.map((h, j) => (spec.bad ? `${spec.values[i][j]}/${spec.ns[i][j]}` : String(spec.values[i][j])))]);
    return box("heatmap", spec.id, svg, legend, table(head, rows), spec.cols.length);
  }

  // ---------------------------------------------------------------- stack: the channel mix
  // spec: {id, label, width, parts: [{key, label, value}]} (value: counted evaluations)
  function stack(spec) {
    const W = Math.max(300, spec.width || 720);
    const H = 44;
    const total = spec.parts.reduce((s, p) => s + p.value, 0);
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": spec.label, class: "stack-chart" });
    let x0 = 0;
    const share = (v) => (total ? `${(Math.round((v / total) * 1000) / 10).toFixed(1)}%` : "—");
    spec.parts.forEach((p, i) => {
      const w = total ? (p.value / total) * W : 0;
      const c = colour(p.key, i);
      svg.append(mark("rect", {
        class: "part", x: x0, y: 4, width: w, height: H - 8, fill: c, stroke: "#fff", "stroke-width": 2,
        "data-channel": p.key, "data-label": p.label, "data-value": p.value, "data-n": total,
      }, `${p.label} · ${p.value} · ${share(p.value)}`));
      if (w > 70) svg.append(svgEl("text", { x: x0 + 6, y: H / 2 + 4, fill: "#fff", class: "part-label", "aria-hidden": "true" }, `${p.label} ${p.value}`));
      x0 += w;
    });
    if (!total) svg.append(svgEl("rect", { x: 0, y: 4, width: W, height: H - 8, fill: "#f1f4f7" }));
    const legend = legendList(spec.parts.map((p, i) => [
      el("span", { className: "key", dataset: { channel: p.key } }, swatch(colour(p.key, i), "")), `${p.label} ${p.value} (${share(p.value)})`]));
    const rows = spec.parts.map((p) => [p.label, String(p.value), share(p.value)]);
    rows.push([t("total"), String(total), share(total)]);
    return box("stack", spec.id, svg, legend, table([spec.itemName || "", spec.valueName || t("count"), t("share")], rows));
  }

  // ---------------------------------------------------------------- counts: bars of counts
  // spec: {id, label, width, itemName, valueName, items: [{key, label, value (a count), n (the base
  //        it is a share of, e.g. texts sent; default: the value), share: "75.00" | null (the API's
  //        percent, shown as given, never recomputed)}]}. Bars scale to the largest count (the SMS
  //        funnel sent -> delivered -> replied, the call-backs' outcomes).
  function counts(spec) {
    const W = Math.max(300, spec.width || 720);
    const rowH = 28, top = 4, bottom = 4;
    const labelW = W < 480 ? 96 : 150;
    const valueW = W < 480 ? 92 : 130;
    const plotW = W - labelW - valueW;
    const H = top + spec.items.length * rowH + bottom;
    const max = Math.max(1, ...spec.items.map((i) => i.value));
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": spec.label, class: "counts-chart" });
    const maxChars = Math.floor(labelW / 8);
    const shown = (item) => `${item.value}${item.share != null ? ` (${item.share}%)` : ""}`;
    spec.items.forEach((item, i) => {
      const y0 = top + i * rowH;
      const mid = y0 + rowH / 2;
      const short = item.label.length > maxChars ? `${item.label.slice(0, maxChars - 1)}…` : item.label;
      svg.append(svgEl("text", { x: labelW - 6, y: mid + 4, "text-anchor": "end", class: "bar-label" }, short, svgEl("title", {}, item.label)));
      svg.append(mark("rect", {
        class: "bar", x: labelW, y: y0 + 5, height: rowH - 10, width: (item.value / max) * plotW, fill: colour(item.key, i),
        "data-key": item.key, "data-label": item.label, "data-value": item.value, "data-n": item.n ?? item.value,
        "data-share": item.share ?? null,
      }, `${item.label} · ${shown(item)}`));
      svg.append(svgEl("text", { x: labelW + (item.value / max) * plotW + 6, y: mid + 4, class: "bar-value", fill: "#1d2733" }, shown(item)));
    });
    const rows = spec.items.map((item) => [item.label, String(item.value), item.share != null ? `${item.share}%` : "—"]);
    return box("counts", spec.id, svg, null, table([spec.itemName || "", spec.valueName || t("count"), t("share")], rows));
  }

  Object.assign(HALLRATE.charts, { line, bars, heatmap, stack, colour });
  HALLRATE.charts.counts = counts;
})();
