// One charge point: facts, its EVSEs live, commands (admins only), status history, message log
// and configuration.
"use strict";

(async () => {
  const { h } = Ems;
  const MESSAGES_PAGE = 50;
  const HISTORY_REFRESH_MS = 2000;
  const me = await Ems.start();
  const id = Ems.pageData.charge_point_id;
  const base = "/api/v1/charge-points/" + encodeURIComponent(id);
  document.getElementById("charger-title").textContent = id;
  const evseBody = document.querySelector("#evses tbody");
  const evses = new Map();
  let detail;

  function facts(cp) {
    const rows = [
      ["Connection", cp.connected ? "connected" : "offline"],
      ["Registration", cp.registration],
      ["OCPP", cp.ocpp_version || "–"],
      ["Security profile", String(cp.security_profile)],
      ["Vendor / model", [cp.vendor, cp.model].filter(Boolean).join(" ") || "–"],
      ["Firmware", cp.firmware_version || "–"],
      ["Serial number", (cp.boot && cp.boot.serial_number) || "–"],
      ["Last seen", Ems.time(cp.last_seen_at) || "–"],
    ];
    document.getElementById("charger-facts").replaceChildren(
      ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  function evseRow(evse) {
    return h("tr", { "data-key": evse.key },
      h("td", {}, "#" + evse.evse_id),
      h("td", {}, Ems.statusBadge(evse.status, evse.connected)),
      h("td", {}, evse.transaction_pk
        ? h("a", { href: "/sessions/" + encodeURIComponent(evse.transaction_pk) },
          (evse.id_token || "session") + " · " + Ems.number(evse.energy_kwh, 2, "kWh"))
        : "–"),
      h("td", { class: "num" },
        Ems.number(evse.power_w === null ? null : evse.power_w / 1000, 2, "kW")),
      h("td", {}, Ems.phaseMeters(evse)),
      h("td", { class: "num" }, Ems.number(evse.limit_a, 1, "A")));
  }

  function renderEvses() {
    const list = [...evses.values()].sort((a, b) => a.evse_id - b.evse_id);
    Ems.fill(evseBody, list.map(evseRow), "No EVSE has reported a status yet.");
    if (me.role === "admin") commandChoices(list);
  }

  function commandChoices(list) {
    for (const select of document.querySelectorAll(".evse-select")) {
      const value = select.value;
      const options = list.map((e) => h("option", { value: e.evse_id }, "#" + e.evse_id));
      if (select.dataset.whole) options.unshift(h("option", { value: 0 }, "whole charger"));
      select.replaceChildren(...options);
      if (value) select.value = value;
    }
    const running = list.filter((e) => e.transaction_id);
    document.getElementById("stop-select").replaceChildren(...running.map((e) =>
      h("option", { value: e.transaction_id }, `#${e.evse_id}: ${e.id_token || e.transaction_id}`)));
    document.querySelector("#cmd-stop button").disabled = running.length === 0;
  }

  async function loadDetail() {
    detail = await Ems.api(base);
    facts(detail);
    Ems.fill(document.querySelector("#configuration tbody"), detail.configuration.map((s) =>
      h("tr", {}, h("td", {}, s.component || "–"), h("td", {}, s.variable),
        h("td", {}, s.value ?? "–"), h("td", {}, s.readonly ? "yes" : ""))),
    "The charger has reported no configuration.", 4);
  }

  async function loadHistory() {
    const reports = await Ems.api(base + "/status-history?limit=100");
    Ems.fill(document.querySelector("#status-history tbody"), reports.map((r) =>
      h("tr", {}, h("td", {}, Ems.time(r.timestamp)), h("td", {}, "#" + r.evse_id),
        h("td", {}, Ems.statusBadge(r.status)), h("td", {}, r.error_code || ""),
        h("td", {}, r.info || ""))),
    "No status reported yet.", 5);
  }

  // After a status change: history and facts again, once for a burst of changes.
  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      loadHistory();
      loadDetail();
    }, HISTORY_REFRESH_MS);
  }

  let oldestFrame = null;
  async function loadMessages(older) {
    const q = new URLSearchParams({ limit: MESSAGES_PAGE });
    if (older && oldestFrame !== null) q.set("before_id", oldestFrame);
    const frames = await Ems.api(base + "/messages?" + q);
    const rows = frames.map((f) => h("tr", {},
      h("td", {}, Ems.time(f.timestamp)),
      h("td", { class: "direction", title: f.direction === "in" ? "from the charger" : "to the charger" },
        f.direction === "in" ? "→" : "←"),
      h("td", {}, h("div", { class: "frame" }, f.message))));
    const tbody = document.querySelector("#message-log tbody");
    if (older) tbody.append(...rows);
    else Ems.fill(tbody, rows, "No message logged.", 3);
    if (frames.length) oldestFrame = frames[frames.length - 1].id;
    document.getElementById("messages-older").disabled = frames.length < MESSAGES_PAGE;
  }

  // ---- commands ---------------------------------------------------------------------------

  const result = document.getElementById("command-result");

  async function command(name, body, label) {
    result.textContent = `${label}: sending…`;
    delete result.dataset.ok;
    try {
      const answer = await Ems.api(`${base}/commands/${name}`, { method: "POST", body });
      const ok = ["Accepted", "Scheduled", "Unlocked"].includes(answer.status);
      result.dataset.ok = String(ok);
      result.textContent = `${label}: ${answer.status ?? JSON.stringify(answer.payload)}`;
    } catch (error) {
      result.dataset.ok = "false";
      result.textContent = `${label}: ${error.message}`;
    }
    setTimeout(() => { loadHistory(); loadMessages(false); }, 1000);
  }

  function onSubmit(formId, handler) {
    const form = document.getElementById(formId);
    if (!form) return; // not an admin: the commands are not on the page
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      handler(form.elements, event.submitter);
    });
  }

  onSubmit("cmd-start", (f) => command("remote-start",
    { id_token: f.id_token.value.trim(), evse_id: Number(f.evse_id.value) },
    `Start on #${f.evse_id.value}`));
  onSubmit("cmd-stop", (f) => command("remote-stop",
    { transaction_id: f.transaction_id.value }, "Stop"));
  onSubmit("cmd-availability", (f, button) => {
    const operative = button.value === "true";
    command("availability", { evse_id: Number(f.evse_id.value), operative },
      `${operative ? "Operative" : "Inoperative"} ${f.evse_id.value === "0" ? "charger" : "#" + f.evse_id.value}`);
  });
  onSubmit("cmd-unlock", (f) => {
    if (!confirm(`Unlock the connector of EVSE #${f.evse_id.value}? A running session stops.`)) return;
    command("unlock", { evse_id: Number(f.evse_id.value) }, `Unlock #${f.evse_id.value}`);
  });
  onSubmit("cmd-reset", (f, button) => {
    if (!confirm(`${button.value} reset ${id}? Running sessions stop.`)) return;
    command("reset", { kind: button.value }, `${button.value} reset`);
  });

  // ---- start ------------------------------------------------------------------------------

  document.getElementById("messages-refresh").addEventListener("click", () => loadMessages(false));
  document.getElementById("messages-older").addEventListener("click", () => loadMessages(true));
  try {
    await loadDetail();
  } catch (error) {
    Ems.message(error.message);
    return;
  }
  await Promise.all([loadHistory(), loadMessages(false)]);
  Ems.live((message) => {
    if (!message.evses) return;
    const mine = message.evses.filter((e) => e.charge_point_id === id);
    if (message.type === "state") evses.clear();
    for (const evse of mine) {
      const old = evses.get(evse.key);
      if (old && (old.status !== evse.status || old.connected !== evse.connected)) {
        refreshSoon();
      }
      evses.set(evse.key, evse);
    }
    if (mine.length || message.type === "state") renderEvses();
  });
})();
