// The lobby screen (docs/lobby.md "The page"): polls the JSON endpoint every refresh_seconds
// and updates the numbers in place. When the server is away (restart, network) the last
// numbers stay, the page says 重新连接中…, retries every few seconds and recovers on its own.
// Every value is set with textContent: nothing from the server is parsed as HTML.
"use strict";
(function () {
  const body = document.body;
  const api = body.dataset.api;
  const refresh = Math.max(5, parseInt(body.dataset.refresh, 10) || 30) * 1000;
  const retry = Math.min(refresh, 5000);
  const texts = {
    small: body.dataset.tSmall,
    missing: body.dataset.tMissing,
    ratings: body.dataset.tRatings,
    reconnecting: body.dataset.tReconnecting,
    noRows: body.dataset.tNoRows,
  };
  const status = document.getElementById("status");

  function setText(id, value) {
    const el = document.getElementById(id);
    if (el && el.textContent !== String(value)) el.textContent = String(value);
  }

  function percent(score) {
    return score && score.percent !== null ? score.percent + "%" : "—";
  }

  function note(block) {
    const parts = [texts.ratings.replace("{n}", String(block.counted_total))];
    if (block.below_min_sample.length) parts.push(texts.small);
    if (block.missing_groups.length && block.score.percent !== null) parts.push(texts.missing);
    return parts.join(" · ");
  }

  function cell(cls, text) {
    const td = document.createElement("td");
    td.className = cls;
    td.textContent = text;
    return td;
  }

  function row(item, by) {
    const tr = document.createElement("tr");
    const named = item.name && item.name !== item.code;
    const who = by === "window" ? item.code + (named ? " " + item.name : "") : item.name;
    tr.appendChild(cell("rank", item.rank === null ? "—" : String(item.rank)));
    tr.appendChild(cell("who", who));
    const score = cell("score", percent(item.score));
    if (item.below_min_sample.length) {
      const flag = document.createElement("span");
      flag.className = "flag";
      flag.textContent = texts.small;
      score.appendChild(flag);
    }
    tr.appendChild(score);
    tr.appendChild(cell("count", String(item.counted_total)));
    return tr;
  }

  function ranking(data, by) {
    const tbody = document.getElementById(by + "-rows");
    if (!tbody || !data) return;
    setText(by + "-period", data.period.label);
    const rows = data.items.map(function (item) { return row(item, by); });
    if (!rows.length) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell("", texts.noRows);
      td.colSpan = 4;
      tr.appendChild(td);
      rows.push(tr);
    }
    tbody.replaceChildren.apply(tbody, rows);
  }

  function show(data) {
    setText("hall-name", data.hall.name);
    setText("today-value", percent(data.today.score));
    setText("today-note", note(data.today));
    setText("quarter-value", percent(data.quarter.score));
    setText("quarter-note", data.quarter.period.label + " · " + note(data.quarter));
    setText("votes-value", data.votes_today);
    setText("as-of", data.as_of_local);
    ranking(data.windows, "window");
    ranking(data.staff, "staff");
  }

  function offline(message) {
    body.classList.add("offline");
    status.textContent = message;
  }

  function online() {
    body.classList.remove("offline");
    status.textContent = "";
  }

  async function poll() {
    const controller = new AbortController();
    const timer = setTimeout(function () { controller.abort(); }, 10000);
    let next = refresh;
    try {
      const r = await fetch(api, { cache: "no-store", signal: controller.signal });
      if (r.ok) {
        show(await r.json());
        online();
      } else if (r.status === 403 || r.status === 404) {
        // The key was revoked or the screen turned off: say why, keep asking.
        let detail = String(r.status);
        try { detail = (await r.json()).detail || detail; } catch (e) { /* not JSON */ }
        offline(detail);
      } else {
        offline(texts.reconnecting);
        next = retry;
      }
    } catch (e) {
      offline(texts.reconnecting);
      next = retry;
    } finally {
      clearTimeout(timer);
    }
    setTimeout(poll, next);
  }

  setTimeout(poll, refresh);
})();
