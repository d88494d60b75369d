// The driver's pages: a live estimate on the start form, live progress on the session page.
"use strict";

function byId(id) { return document.getElementById(id); }

function watchEstimate(form) {
  const code = form.dataset.code;
  let timer = null;
  async function update() {
    const query = new URLSearchParams({
      departure: byId("departure").value, energy_kwh: byId("energy_kwh").value || "0",
    });
    const response = await fetch(`/c/${encodeURIComponent(code)}/estimate?${query}`);
    const data = await response.json();
    if (response.ok) {
      byId("estimate").textContent = `${data.total} ${data.currency}`;
      byId("hold").textContent = `${data.hold} ${data.currency}`;
    } else {
      byId("estimate").textContent = data.error;
    }
  }
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(update, 300); });
}

function watchProgress(section) {
  const base = window.location.pathname.replace(/\/$/, "");
  let state = section.dataset.state;
  async function poll() {
    try {
      const response = await fetch(`${base}/status`, { cache: "no-store" });
      if (response.ok) {
        const data = await response.json();
        byId("state").textContent = data.state;
        byId("energy").textContent = data.energy_kwh;
        byId("power").textContent = data.power_w === null ? "-" : data.power_w;
        byId("cost").textContent = data.cost === null ? "0" : data.cost;
        const error = byId("session-error");
        error.hidden = !data.error;
        error.textContent = data.error || "";
        // a new state brings new parts (the stop button, the receipt): reload the page
        if (data.state !== state || (data.state === "completed" && !byId("receipt"))) {
          state = data.state;
          window.location.reload();
          return;
        }
      }
    } catch (e) {
      // offline for a moment: try again
    }
    if (state === "starting" || state === "charging" || !byId("receipt")) {
      setTimeout(poll, 1000);
    }
  }
  if (state !== "failed") { setTimeout(poll, 1000); }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = byId("start-form");
  if (form) { watchEstimate(form); }
  const section = byId("progress");
  if (section) { watchProgress(section); }
});
