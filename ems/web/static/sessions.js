// Sessions: the list, filtered by charge point, state, start date and id token; paged.
// The filters live in the page's URL, so a filtered list can be bookmarked and shared.
"use strict";

(async () => {
  const { h } = Ems;
  const PAGE_SIZE = 50;
  await Ems.start();
  const form = document.getElementById("filters");
  const body = document.querySelector("#sessions-table tbody");
  const params = new URLSearchParams(location.search);
  for (const name of ["charge_point_id", "active", "since", "until", "id_token"]) {
    if (params.has(name)) form.elements[name].value = params.get(name);
  }
  let offset = Number(params.get("offset") || 0);

  // A date picked in the browser means that local day, sent to the API as a UTC instant.
  function instant(date, endOfDay) {
    if (!date) return null;
    const local = new Date(date + "T00:00:00");
    if (endOfDay) local.setDate(local.getDate() + 1);
    return local.toISOString();
  }

  function query() {
    const q = new URLSearchParams({ limit: PAGE_SIZE + 1, offset });
    const f = form.elements;
    if (f.charge_point_id.value.trim()) q.set("charge_point_id", f.charge_point_id.value.trim());
    if (f.active.value) q.set("active", f.active.value);
    if (f.since.value) q.set("since", instant(f.since.value, false));
    if (f.until.value) q.set("until", instant(f.until.value, true));
    if (f.id_token.value.trim()) q.set("id_token", f.id_token.value.trim());
    return q;
  }

  function row(tx) {
    return h("tr", {},
      h("td", {}, h("a", { href: "/sessions/" + encodeURIComponent(tx.id) }, Ems.time(tx.started_at))),
      h("td", {}, h("a", { href: "/chargers/" + encodeURIComponent(tx.charge_point_id) },
        tx.charge_point_id), h("span", { class: "evse" }, " #" + tx.evse_id)),
      h("td", {}, tx.id_token || "–"),
      h("td", {}, tx.active ? Ems.statusBadge("Charging") : (tx.stop_reason || "finished")),
      h("td", { class: "num" }, Ems.duration(tx.duration_s)),
      h("td", { class: "num" }, Ems.number(tx.energy_kwh, 2, "kWh")));
  }

  async function load() {
    const q = query();
    const shown = new URLSearchParams(
      [...new FormData(form)].filter(([, value]) => value !== ""));
    if (offset) shown.set("offset", offset);
    history.replaceState(null, "", "/sessions" + (shown.toString() ? "?" + shown : ""));
    let list;
    try {
      list = await Ems.api("/api/v1/transactions?" + q);
    } catch (error) {
      Ems.message(error.message);
      return;
    }
    const more = list.length > PAGE_SIZE;
    Ems.fill(body, list.slice(0, PAGE_SIZE).map(row), "No session matches these filters.");
    document.getElementById("older").disabled = !more;
    document.getElementById("newer").disabled = offset === 0;
    document.getElementById("page-info").textContent = list.length
      ? `${offset + 1}–${offset + Math.min(list.length, PAGE_SIZE)}` : "";
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    offset = 0;
    load();
  });
  document.getElementById("older").addEventListener("click", () => {
    offset += PAGE_SIZE;
    load();
  });
  document.getElementById("newer").addEventListener("click", () => {
    offset = Math.max(0, offset - PAGE_SIZE);
    load();
  });
  Ems.api("/api/v1/charge-points").then((cps) => {
    document.getElementById("charge-point-ids").replaceChildren(
      ...cps.map((cp) => h("option", { value: cp.id })));
  });
  await load();
})();
