// Site overview: every charger live, each site's load against its capacity (live chart), and
// the optimizer's plan for the coming hours with the prices.
"use strict";

(async () => {
  const { h } = Ems;
  const LOAD_POINTS = 900; // points kept on a live chart (15 min at one per second)
  const PLAN_REFRESH_MS = 5000; // at most one plan fetch per site this often
  const PLOT_CONFIG = { responsive: true, displayModeBar: false };
  const me = await Ems.start();
  const chargerBody = document.querySelector("#chargers tbody");
  const evses = new Map(); // key -> latest view
  const sites = new Map(); // id -> {card parts, cycles, planFetchedAt}

  // ---- chargers ---------------------------------------------------------------------------

  function chargerRow(evse) {
    const session = evse.transaction_pk
      ? h("a", { href: "/sessions/" + encodeURIComponent(evse.transaction_pk) },
        (evse.id_token || "session") + " · " + Ems.number(evse.energy_kwh, 2, "kWh"))
      : h("span", { class: "hint" }, "–");
    return h("tr", { "data-key": evse.key },
      h("td", {},
        h("a", { href: "/chargers/" + encodeURIComponent(evse.charge_point_id) },
          evse.charge_point_id), h("span", { class: "evse" }, " #" + evse.evse_id)),
      h("td", {}, Ems.statusBadge(evse.status, evse.connected)),
      h("td", {}, session),
      h("td", { class: "num power" },
        Ems.number(evse.power_w === null ? null : evse.power_w / 1000, 2, "kW")),
      h("td", {}, Ems.phaseMeters(evse)),
      h("td", { class: "num" }, Ems.number(evse.limit_a, 1, "A")));
  }

  function renderChargers() {
    const rows = [...evses.values()]
      .sort((a, b) => a.key.localeCompare(b.key, undefined, { numeric: true }))
      .map(chargerRow);
    chargerBody.replaceChildren(...rows);
    document.getElementById("no-chargers").hidden = rows.length > 0;
  }

  function updateChargers(changed) {
    let added = false;
    for (const evse of changed) {
      if (!evses.has(evse.key)) added = true;
      evses.set(evse.key, evse);
    }
    if (added) {
      renderChargers();
      return;
    }
    for (const evse of changed) {
      const old = chargerBody.querySelector(`tr[data-key="${CSS.escape(evse.key)}"]`);
      if (old) old.replaceWith(chargerRow(evse));
    }
  }

  // ---- sites ------------------------------------------------------------------------------

  function siteCard(site) {
    const figures = h("div", { class: "figures" });
    const load = h("div", { class: "chart", id: "load-" + site.id });
    const plan = h("div", { class: "chart", id: "plan-" + site.id });
    const planBody = h("tbody");
    const planSummary = h("p", { class: "hint" });
    const card = h("section", { class: "card site", "data-site": site.id },
      h("h2", {}, site.name, h("span", { class: "hint" }, " · " + site.chargers + " chargers")),
      figures,
      h("h3", {}, "Load against capacity"), load,
      h("h3", {}, "Plan for the coming hours"), planSummary, plan,
      h("div", { class: "table-wrap" }, h("table", { class: "plan" },
        h("thead", {}, h("tr", {},
          h("th", {}, "Charger"), h("th", { class: "num" }, "Limit now"),
          h("th", { class: "num" }, "In force"), h("th", { class: "num" }, "Measured"),
          h("th", { class: "num" }, "Energy"), h("th", {}, "Departure"),
          h("th", { class: "num" }, "Unmet"))),
        planBody)));
    document.getElementById("sites").append(card);
    Plotly.newPlot(load, [
      { x: [], y: [], name: "load", mode: "lines", line: { width: 2, color: "#1f6feb" } },
      { x: [], y: [], name: "capacity", mode: "lines",
        line: { width: 2, dash: "dash", color: "#d1242f" } },
    ], {
      margin: { t: 10, r: 10, b: 40, l: 50 }, height: 260,
      yaxis: { title: { text: "kW" }, rangemode: "tozero" },
      legend: { orientation: "h", y: -0.25 },
    }, PLOT_CONFIG);
    return { site, card, figures, load, plan, planBody, planSummary, cycles: -1,
      planFetchedAt: 0, planPending: false };
  }

  function showFigures(entry, live) {
    const limits = live.phase_limit_a;
    entry.figures.replaceChildren(...[
      figure("Load now", Ems.number(live.load_kw, 1, "kW")),
      figure("Capacity", Ems.number(live.capacity_kw, 1, "kW")),
      figure("Cars", Ems.number(live.ev_kw, 1, "kW")),
      live.other_kw === null ? null : figure("Other load", Ems.number(live.other_kw, 1, "kW")),
      ...live.phase_current_a.map((a, i) => figure(`L${i + 1}`,
        Ems.number(a, 1) + (limits ? " / " + Ems.number(limits[i], 0) : "") + " A")),
    ].filter(Boolean));
  }

  function figure(label, value) {
    return h("div", { class: "figure" }, h("span", { class: "figure-label" }, label),
      h("span", { class: "figure-value" }, value));
  }

  function addLoad(entry, live) {
    showFigures(entry, live);
    Plotly.extendTraces(entry.load, {
      x: [[live.at], [live.at]], y: [[live.load_kw], [live.capacity_kw]],
    }, [0, 1], LOAD_POINTS);
    if (live.cycles !== entry.cycles) {
      entry.cycles = live.cycles;
      refreshPlan(entry);
    }
  }

  async function seedLoad(entry) {
    // Recent history from the control-cycle log, so the chart does not start empty.
    const cycles = await Ems.api(`/api/v1/sites/${encodeURIComponent(entry.site.id)}/cycles?limit=120`);
    const known = cycles.filter((c) => c.measured_kw !== null).reverse();
    if (!known.length) return;
    Plotly.extendTraces(entry.load, {
      x: [known.map((c) => c.started_at), known.map((c) => c.started_at)],
      y: [known.map((c) => c.measured_kw), known.map((c) => c.capacity_kw)],
    }, [0, 1], LOAD_POINTS);
  }

  async function refreshPlan(entry) {
    const wait = entry.planFetchedAt + PLAN_REFRESH_MS - Date.now();
    if (entry.planPending) return;
    if (wait > 0) {
      entry.planPending = true;
      setTimeout(() => { entry.planPending = false; refreshPlan(entry); }, wait);
      return;
    }
    entry.planFetchedAt = Date.now();
    let plan;
    try {
      plan = await Ems.api(`/api/v1/sites/${encodeURIComponent(entry.site.id)}/plan`);
    } catch (error) {
      if (error.status === 404) {
        entry.planSummary.textContent = "No plan yet: the first control cycle has not run.";
        return;
      }
      throw error;
    }
    showPlan(entry, plan);
  }

  function stepX(starts) {
    // Slot starts plus the end of the last slot, so step lines cover every slot.
    const times = starts.map((s) => new Date(s).getTime());
    const last = times.length > 1 ? 2 * times[times.length - 1] - times[times.length - 2]
      : times[0] + 900000;
    return [...starts, new Date(last).toISOString()];
  }

  function showPlan(entry, plan) {
    const s = plan.summary;
    entry.planSummary.textContent =
      `${s.solver} · ${s.status} · ${s.sessions} sessions · solved in ${Ems.number(s.solve_ms, 1)} ms` +
      ` · unmet ${Ems.number(s.unmet_kwh, 2)} kWh · energy cost ${Ems.number(s.energy_cost, 2)}` +
      ` · as of ${Ems.time(s.started_at)}`;
    const x = stepX(plan.slot_starts);
    const last = (values) => [...values, values[values.length - 1]];
    Plotly.react(entry.plan, [
      { x, y: last(s.site_kw_by_slot), name: "planned", mode: "lines", fill: "tozeroy",
        line: { shape: "hv", color: "#1f6feb" } },
      { x, y: last(plan.capacity_kw_by_slot), name: "capacity", mode: "lines",
        line: { shape: "hv", dash: "dash", color: "#d1242f" } },
      { x, y: last(plan.price_per_kwh_by_slot), name: "price", mode: "lines", yaxis: "y2",
        line: { shape: "hv", color: "#9a6700" } },
    ], {
      margin: { t: 10, r: 55, b: 40, l: 50 }, height: 260,
      yaxis: { title: { text: "kW" }, rangemode: "tozero" },
      yaxis2: { title: { text: "price per kWh" }, overlaying: "y", side: "right",
        rangemode: "tozero", showgrid: false },
      legend: { orientation: "h", y: -0.25 },
    }, PLOT_CONFIG);
    entry.planBody.replaceChildren(...plan.chargers.map((c) => h("tr", {},
      h("td", {}, c.key),
      h("td", { class: "num" }, Ems.number(c.limit_now_a, 1, "A")),
      h("td", { class: "num" }, Ems.number(c.applied_limit_a, 1, "A")),
      h("td", { class: "num" },
        Ems.number(c.measured_power_w === null ? null : c.measured_power_w / 1000, 2, "kW")),
      h("td", { class: "num" }, c.session_id
        ? Ems.number(c.energy_delivered_kwh, 1) + " / " + Ems.number(c.energy_requested_kwh, 1) + " kWh"
        : "–"),
      h("td", {}, c.departure ? Ems.time(c.departure) + " (" + c.departure_source + ")" : "–"),
      h("td", { class: "num" }, Ems.number(c.unmet_kwh, 2, "kWh")))));
  }

  // ---- start ------------------------------------------------------------------------------

  const seeds = [];
  for (const site of await Ems.api("/api/v1/sites")) {
    const entry = siteCard(site);
    sites.set(site.id, entry);
    seeds.push(seedLoad(entry));
  }
  await Promise.all(seeds); // history first: the live points follow it in time

  Ems.live((message) => {
    if (message.type === "state") {
      evses.clear();
      for (const evse of message.evses) evses.set(evse.key, evse);
      renderChargers();
    } else if (message.type === "update") {
      updateChargers(message.evses);
    }
    if (message.sites) {
      for (const live of message.sites) {
        const entry = sites.get(live.id);
        if (entry) addLoad(entry, live);
      }
    }
  });
  document.body.dataset.role = me.role;
})();
