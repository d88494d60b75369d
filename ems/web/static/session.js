// One session: its facts, the meter curve (energy and power; current per phase against the
// limits sent), the limits sent with the charger's answers, and the cost under the site tariff.
"use strict";

(async () => {
  const { h } = Ems;
  const PLOT_CONFIG = { responsive: true, displayModeBar: false };
  const ENERGY = "Energy.Active.Import.Register";
  const POWER = "Power.Active.Import";
  const CURRENT = "Current.Import";
  await Ems.start();
  const pk = Ems.pageData.transaction_pk;
  let tx;
  try {
    tx = await Ems.api("/api/v1/transactions/" + encodeURIComponent(pk));
  } catch (error) {
    document.getElementById("session-title").textContent = "Session not found";
    Ems.message(error.message);
    return;
  }
  document.getElementById("session-title").textContent =
    `Session ${tx.transaction_id} at ${tx.charge_point_id} #${tx.evse_id}`;
  const facts = [
    ["Charger", h("a", { href: "/chargers/" + encodeURIComponent(tx.charge_point_id) },
      tx.charge_point_id + " #" + tx.evse_id)],
    ["State", tx.active ? "running" : "finished" + (tx.stop_reason ? ` (${tx.stop_reason})` : "")],
    ["Id token", tx.id_token ? `${tx.id_token} (${tx.id_token_type})` : "–"],
    ["Started", Ems.time(tx.started_at)],
    ["Stopped", tx.stopped_at ? Ems.time(tx.stopped_at) : "–"],
    ["Duration", Ems.duration(tx.duration_s)],
    ["Energy", Ems.number(tx.energy_kwh, 3, "kWh")],
    ["Meter start / stop", `${Ems.number(tx.meter_start_wh, 0)} / ${Ems.number(tx.meter_stop_wh, 0)} Wh`],
  ];
  document.getElementById("session-facts").replaceChildren(
    ...facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));

  const scale = (s) => (s.unit === "kWh" || s.unit === "kW" ? 1000 : 1) * s.value;
  const whole = (s) => s.phase === null && (s.location === null || s.location === "Outlet");
  const energy = tx.samples.filter((s) => s.measurand === ENERGY && whole(s));
  const power = tx.samples.filter((s) => s.measurand === POWER && whole(s));
  const start = tx.meter_start_wh ?? (energy.length ? scale(energy[0]) : 0);
  Plotly.newPlot("meter-chart", [
    { x: energy.map((s) => s.timestamp), y: energy.map((s) => (scale(s) - start) / 1000),
      name: "energy (kWh)", mode: "lines", line: { color: "#1a7f37" } },
    { x: power.map((s) => s.timestamp), y: power.map((s) => scale(s) / 1000),
      name: "power (kW)", mode: "lines", yaxis: "y2", line: { shape: "hv", color: "#1f6feb" } },
  ], {
    margin: { t: 10, r: 50, b: 40, l: 50 }, height: 280,
    yaxis: { title: { text: "kWh" }, rangemode: "tozero" },
    yaxis2: { title: { text: "kW" }, overlaying: "y", side: "right", rangemode: "tozero",
      showgrid: false },
    legend: { orientation: "h", y: -0.25 },
  }, PLOT_CONFIG);

  // The limits sent for this session (TxProfiles) with their answers.
  const profiles = (await Ems.api(
    `/api/v1/charge-points/${encodeURIComponent(tx.charge_point_id)}/charging-profiles?limit=1000`))
    .filter((p) => p.transaction_id === tx.transaction_id)
    .reverse();
  const limitOf = (p) => {
    const schedule = p.profile.schedule || {};
    const period = (schedule.periods || [])[0];
    return period ? { value: period.limit, unit: schedule.unit } : null;
  };
  Ems.fill(document.querySelector("#limits-table tbody"), profiles.map((p) => {
    const limit = limitOf(p);
    return h("tr", {},
      h("td", {}, Ems.time(p.sent_at)),
      h("td", {}, p.purpose),
      h("td", { class: "num" }, limit ? `${limit.value} ${limit.unit}` : "–"),
      h("td", {}, p.profile.valid_to ? Ems.time(p.profile.valid_to) : "–"),
      h("td", {}, p.error ? h("span", { class: "error" }, p.error) : p.status || "–"));
  }), "No limit was sent for this session.", 5);

  const traces = ["L1", "L2", "L3"].map((phase) => {
    const values = tx.samples.filter((s) => s.measurand === CURRENT &&
      (s.phase === phase || s.phase === phase + "-N"));
    return { x: values.map((s) => s.timestamp), y: values.map((s) => s.value),
      name: phase + " (A)", mode: "lines", line: { shape: "hv" } };
  }).filter((t) => t.x.length);
  const accepted = profiles.filter((p) => !p.error && p.status === "Accepted" &&
    limitOf(p) && limitOf(p).unit === "A");
  if (accepted.length) {
    const end = tx.stopped_at || new Date().toISOString();
    traces.push({ x: [...accepted.map((p) => p.sent_at), end],
      y: [...accepted.map((p) => limitOf(p).value), limitOf(accepted[accepted.length - 1]).value],
      name: "limit (A)", mode: "lines", line: { shape: "hv", dash: "dash", color: "#d1242f" } });
  }
  if (traces.length) {
    Plotly.newPlot("current-chart", traces, {
      margin: { t: 10, r: 10, b: 40, l: 50 }, height: 260,
      yaxis: { title: { text: "A" }, rangemode: "tozero" },
      legend: { orientation: "h", y: -0.25 },
    }, PLOT_CONFIG);
  } else {
    document.getElementById("current-chart").replaceChildren(
      h("p", { class: "hint" }, "The charger reported no current per phase and no limit in A."));
  }

  const cost = document.getElementById("cost");
  try {
    const c = await Ems.api(`/web/api/transactions/${encodeURIComponent(pk)}/cost`);
    cost.replaceChildren(
      h("p", {}, `${c.tariff_name} (${c.site_id})` + (c.final ? "" : " · running: cost so far")),
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Item"), h("th", { class: "num" }, "Quantity"),
          h("th", { class: "num" }, "Price"), h("th", { class: "num" }, "Amount"))),
        h("tbody", {},
          ...c.lines.map((line) => h("tr", {}, h("td", {}, line.label),
            h("td", { class: "num" }, `${Ems.number(line.quantity, 3)} ${line.unit}`),
            h("td", { class: "num" }, line.unit_price),
            h("td", { class: "num" }, `${line.amount} ${c.currency}`))),
          h("tr", {}, h("td", { colspan: 3 }, "Subtotal"),
            h("td", { class: "num" }, `${c.subtotal} ${c.currency}`)),
          h("tr", {}, h("td", { colspan: 3 }, `Tax (${Number(c.tax_rate) * 100} %)`),
            h("td", { class: "num" }, `${c.tax} ${c.currency}`)),
          h("tr", { class: "total" }, h("th", { colspan: 3 }, "Total"),
            h("th", { class: "num", id: "cost-total" }, `${c.total} ${c.currency}`))))));
  } catch (error) {
    cost.replaceChildren(h("p", { class: "hint" }, error.message));
  }
})();
