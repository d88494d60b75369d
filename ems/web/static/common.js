// Shared by every page: the API token, calls to the API, the live feed, formatting, DOM helpers.
// The token lives in this tab's sessionStorage; every call sends it as a bearer token, so the
// API's authentication and roles decide what a page can show and do.
"use strict";

const Ems = (() => {
  const TOKEN_KEY = "ems.token";
  const features = JSON.parse(document.getElementById("features").textContent);
  const pageData = JSON.parse(document.getElementById("page-data").textContent);

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function signIn(value) {
    sessionStorage.setItem(TOKEN_KEY, value);
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    toLogin();
  }

  function toLogin() {
    const next = location.pathname + location.search;
    location.replace("/login?next=" + encodeURIComponent(next));
  }

  // The API's answer as JSON; an ApiError with the API's "detail" otherwise.
  async function api(path, { method = "GET", body } = {}) {
    const headers = { Authorization: "Bearer " + (token() || "") };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (response.status === 401 && path !== "/web/api/me") {
      signOut();
    }
    if (!response.ok) {
      let detail = (data && data.detail) || response.statusText;
      if (typeof detail !== "string") detail = JSON.stringify(detail);
      throw new ApiError(response.status, detail);
    }
    return data;
  }

  // Who is signed in; sends to the sign-in page when nobody (or a revoked token) is.
  async function start() {
    if (!token()) {
      toLogin();
      return new Promise(() => {});
    }
    let me;
    try {
      me = await api("/web/api/me");
    } catch (error) {
      if (error.status === 401) {
        signOut();
        return new Promise(() => {});
      }
      throw error;
    }
    document.body.classList.add("role-" + me.role);
    if (me.role !== "admin") {
      for (const node of document.querySelectorAll("[data-admin]")) node.remove();
    }
    const who = document.getElementById("who");
    if (who) who.textContent = me.name + " (" + me.role + ")";
    const out = document.getElementById("sign-out");
    if (out) out.addEventListener("click", signOut);
    const current = document.querySelector(`[data-nav="${document.body.dataset.page}"]`);
    if (current) current.setAttribute("aria-current", "page");
    return me;
  }

  // The live feed (/web/live): calls onMessage with each message; reconnects with backoff.
  function live(onMessage) {
    const indicator = document.getElementById("live-state");
    let delayMs = 500;
    function show(state) {
      if (!indicator) return;
      indicator.textContent = state;
      indicator.dataset.state = state;
    }
    function connect() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const socket = new WebSocket(`${scheme}//${location.host}/web/live`);
      socket.addEventListener("open", () => {
        socket.send(JSON.stringify({ token: token() }));
      });
      socket.addEventListener("message", (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "hello") {
          delayMs = 500;
          show("live");
        }
        onMessage(message);
      });
      socket.addEventListener("close", (event) => {
        show("offline");
        if (event.code === 4401) {
          signOut();
          return;
        }
        setTimeout(connect, delayMs);
        delayMs = Math.min(delayMs * 2, 10000);
      });
    }
    connect();
  }

  // ---- DOM ------------------------------------------------------------------------------

  // h("a", {href: "/x", class: "y"}, "text", child...): an element; text is never parsed as HTML.
  function h(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function fill(tbody, rows, emptyText, columns) {
    tbody.replaceChildren(...rows);
    if (!rows.length && emptyText) {
      tbody.append(h("tr", {}, h("td", { colspan: columns || 6, class: "hint" }, emptyText)));
    }
  }

  function message(text, kind = "error") {
    const box = document.getElementById("messages");
    const item = h("p", { class: "message " + kind }, text);
    box.append(item);
    setTimeout(() => item.remove(), 8000);
  }

  // ---- formatting -------------------------------------------------------------------------

  function time(value) {
    if (!value) return "";
    const date = new Date(value);
    return date.toLocaleString(undefined, {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return minutes + " min";
    return Math.floor(minutes / 60) + " h " + String(minutes % 60).padStart(2, "0") + " min";
  }

  function number(value, digits = 1, unit = "") {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    return Number(value).toFixed(digits) + (unit ? " " + unit : "");
  }

  function statusBadge(status, connected = true) {
    const text = connected ? status || "unknown" : "offline";
    return h("span", { class: "badge", "data-status": connected ? status || "" : "offline" }, text);
  }

  // Per-phase meters: bar = current drawn, mark = limit, scale = the charger's maximum.
  function phaseMeters(evse) {
    const scale = Math.max(evse.max_current_a || 0, evse.limit_a || 0,
      ...evse.current_a.map((c) => c || 0), 1);
    const meters = evse.current_a.map((current, i) => {
      const meter = h("div", { class: "meter", title: `L${i + 1}` },
        h("span", { class: "meter-label" }, `L${i + 1}`),
        h("span", { class: "meter-track" },
          h("span", { class: "meter-bar", style: `width:${(100 * (current || 0)) / scale}%` }),
          evse.limit_a === null || evse.limit_a === undefined ? null :
            h("span", { class: "meter-limit", style: `left:${(100 * evse.limit_a) / scale}%` })),
        h("span", { class: "meter-value" }, number(current, 1)));
      return meter;
    });
    return h("div", { class: "meters" }, meters);
  }

  return {
    ApiError, api, features, pageData, start, live, signIn, signOut, token,
    h, fill, message, time, duration, number, statusBadge, phaseMeters,
  };
})();

// Any failure a page does not handle itself is shown, not lost in the console.
window.addEventListener("unhandledrejection", (event) => {
  Ems.message(String((event.reason && event.reason.message) || event.reason));
  event.preventDefault();
});
