// Statistics for a period. With ems's statistics API (/api/v1/stats...), its answers are shown
// as tables, whatever figures it offers (read from /openapi.json). Without it, the page still
// gives the basics (sessions, energy, duration per charger and per day), computed here from the
// session list of the REST API, and says so.
"use strict";

(async () => {
  const { h } = Ems;
  const PLOT_CONFIG = { responsive: true, displayModeBar: false };
  const MAX_SESSIONS = 5000;
  await Ems.start();
  const form = document.getElementById("period");
  const out = document.getElementById("stats");
  const source = document.getElementById("stats-source");
  const today = new Date();
  const weekAgo = new Date(today.getTime() - 6 * 86400000);
  const day = (d) => d.toLocaleDateString("sv-SE"); // YYYY-MM-DD in local time
  form.elements.since.value = day(weekAgo);
  form.elements.until.value = day(today);

  function period() {
    const since = new Date(form.elements.since.value + "T00:00:00");
    const until = new Date(form.elements.until.value + "T00:00:00");
    until.setDate(until.getDate() + 1);
    return { since: since.toISOString(), until: until.toISOString() };
  }

  // ---- with the statistics API ------------------------------------------------------------

  function table(value) {
    const rows = Array.isArray(value) ? value : [value];
    if (!rows.length) return h("p", { class: "hint" }, "Nothing in this period.");
    if (typeof rows[0] !== "object" || rows[0] === null) {
      return h("p", {}, rows.join(", "));
    }
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const cell = (v) => (v !== null && typeof v === "object" ? JSON.stringify(v) : v ?? "–");
    return h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) =>
        h("td", { class: typeof r[c] === "number" ? "num" : null }, cell(r[c]))))))));
  }

  function queryFor(operation, p) {
    const q = new URLSearchParams();
    for (const param of operation.parameters || []) {
      if (param.in !== "query") continue;
      if (/^(since|start|from)/.test(param.name)) q.set(param.name, p.since);
      else if (/^(until|end|to)/.test(param.name)) q.set(param.name, p.until);
    }
    return q;
  }

  async function fromStatsApi(p) {
    const spec = await fetch("/openapi.json").then((r) => r.json());
    const endpoints = Object.entries(spec.paths)
      .filter(([path, ops]) => path.startsWith("/api/v1/stats") && ops.get && !path.includes("{"));
    source.textContent = `From ems's statistics API (${endpoints.length} reports).`;
    const sections = await Promise.all(endpoints.map(async ([path, ops]) => {
      const q = queryFor(ops.get, p);
      let body;
      try {
        const answer = await Ems.api(path + (q.toString() ? "?" + q : ""));
        body = table(answer);
      } catch (error) {
        body = h("p", { class: "error" }, error.message);
      }
      return h("section", { class: "card" }, h("h2", {}, ops.get.summary || path),
        h("p", { class: "hint" }, h("code", {}, path)), body);
    }));
    out.replaceChildren(...sections);
  }

  // ---- without it: from the session list --------------------------------------------------

  async function sessions(p) {
    const all = [];
    while (all.length < MAX_SESSIONS) {
      const q = new URLSearchParams({ since: p.since, until: p.until, limit: 1000,
        offset: all.length });
      const page = await Ems.api("/api/v1/transactions?" + q);
      all.push(...page);
      if (page.length < 1000) break;
    }
    return all;
  }

  async function fromSessions(p) {
    const list = await sessions(p);
    source.textContent = "ems's statistics API is not available here: these figures are " +
      `computed in the browser from the ${list.length} sessions started in the period` +
      (list.length >= MAX_SESSIONS ? ` (the first ${MAX_SESSIONS} only)` : "") + ".";
    const byCharger = new Map();
    const byDay = new Map();
    for (const tx of list) {
      const key = `${tx.charge_point_id} #${tx.evse_id}`;
      const c = byCharger.get(key) || { charger: key, sessions: 0, energy_kwh: 0, hours: 0 };
      c.sessions += 1;
      c.energy_kwh += tx.energy_kwh || 0;
      c.hours += tx.duration_s / 3600;
      byCharger.set(key, c);
      const d = day(new Date(tx.started_at));
      const e = byDay.get(d) || { sessions: 0, energy_kwh: 0 };
      e.sessions += 1;
      e.energy_kwh += tx.energy_kwh || 0;
      byDay.set(d, e);
    }
    const chargers = [...byCharger.values()]
      .sort((a, b) => a.charger.localeCompare(b.charger, undefined, { numeric: true }));
    const total = list.reduce((s, tx) => s + (tx.energy_kwh || 0), 0);
    const hours = list.reduce((s, tx) => s + tx.duration_s / 3600, 0);
    const summary = h("section", { class: "card" }, h("h2", {}, "Totals"),
      h("div", { class: "figures" },
        figure("Sessions", list.length),
        figure("Energy", Ems.number(total, 1, "kWh")),
        figure("Mean energy", Ems.number(list.length ? total / list.length : null, 1, "kWh")),
        figure("Mean stay", Ems.duration(list.length ? (hours * 3600) / list.length : null))));
    const chart = h("div", { class: "chart", id: "per-day" });
    const perCharger = h("section", { class: "card" }, h("h2", {}, "Per charger"),
      table(chargers.map((c) => ({
        charger: c.charger, sessions: c.sessions, energy_kwh: Number(c.energy_kwh.toFixed(2)),
        mean_energy_kwh: Number((c.energy_kwh / c.sessions).toFixed(2)),
        mean_stay_h: Number((c.hours / c.sessions).toFixed(2)),
      }))));
    out.replaceChildren(summary, h("section", { class: "card" }, h("h2", {}, "Per day"), chart),
      perCharger);
    const days = [...byDay.keys()].sort();
    Plotly.newPlot(chart, [
      { x: days, y: days.map((d) => byDay.get(d).energy_kwh), type: "bar", name: "energy (kWh)" },
      { x: days, y: days.map((d) => byDay.get(d).sessions), name: "sessions", mode: "lines+markers",
        yaxis: "y2" },
    ], {
      margin: { t: 10, r: 50, b: 40, l: 50 }, height: 260,
      yaxis: { title: { text: "kWh" } },
      yaxis2: { title: { text: "sessions" }, overlaying: "y", side: "right", showgrid: false },
      legend: { orientation: "h", y: -0.25 },
    }, PLOT_CONFIG);
  }

  function figure(label, value) {
    return h("div", { class: "figure" }, h("span", { class: "figure-label" }, label),
      h("span", { class: "figure-value" }, String(value)));
  }

  async function show() {
    const p = period();
    try {
      if (Ems.features.stats) await fromStatsApi(p);
      else await fromSessions(p);
    } catch (error) {
      Ems.message(error.message);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    show();
  });
  await show();
})();
