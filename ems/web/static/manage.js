// Management: API tokens (admins), and id tokens, accounts and tariffs where this ems serves
// their API. A part that is not there says so instead of failing.
"use strict";

(async () => {
  const { h } = Ems;
  const me = await Ems.start();
  const admin = me.role === "admin";
  const body = (id) => document.querySelector(`#${id} .section-body`);
  const notHere = (what) => h("p", { class: "hint" }, `${what} are not managed by this ems yet.`);

  function table(rows, columns, actions) {
    if (!rows.length) return h("p", { class: "hint" }, "None yet.");
    return h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, columns.map(([, label]) => h("th", {}, label)),
        actions ? h("th") : null)),
      h("tbody", {}, rows.map((row) => h("tr", {},
        columns.map(([key]) => h("td", {}, format(row[key]))),
        actions ? h("td", {}, actions(row)) : null)))));
  }

  function format(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value)) return Ems.time(value);
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function columnsOf(rows) {
    return [...new Set(rows.flatMap((r) => Object.keys(r)))].map((k) => [k, k]);
  }

  // ---- API tokens -------------------------------------------------------------------------

  async function apiTokens() {
    const target = body("api-tokens");
    if (!admin) {
      target.replaceChildren(h("p", { class: "hint" }, "Only an admin token may see API tokens."));
      return;
    }
    const tokens = await Ems.api("/api/v1/api-tokens");
    const created = h("p", { class: "secret", hidden: true });
    const form = h("form", { class: "inline-form", id: "token-form" },
      h("label", {}, "Name", h("input", { name: "name", required: true, maxlength: 100 })),
      h("label", {}, "Role", h("select", { name: "role" },
        h("option", { value: "readonly" }, "readonly"), h("option", { value: "admin" }, "admin"))),
      h("button", { type: "submit" }, "Create token"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const answer = await Ems.api("/api/v1/api-tokens", { method: "POST",
          body: { name: form.elements.name.value.trim(), role: form.elements.role.value } });
        await apiTokens();
        const shown = body("api-tokens").querySelector(".secret");
        shown.hidden = false;
        shown.replaceChildren("New token (shown this once, copy it now): ",
          h("code", {}, answer.token));
      } catch (error) {
        Ems.message(error.message);
      }
    });
    const revoke = (row) => (row.active ? h("button", { type: "button", onclick: async () => {
      if (!confirm(`Revoke the token ${row.name}? Whoever uses it is signed out.`)) return;
      try {
        await Ems.api(`/api/v1/api-tokens/${row.id}`, { method: "DELETE" });
      } catch (error) {
        Ems.message(error.message);
      }
      await apiTokens();
    } }, "Revoke") : null);
    target.replaceChildren(created, table(tokens, [["id", "Id"], ["name", "Name"], ["role", "Role"],
      ["created_at", "Created"], ["revoked_at", "Revoked"]], revoke), form);
  }

  // ---- parts that may not exist yet -------------------------------------------------------

  async function generic(section, path, what) {
    const target = body(section);
    try {
      const rows = await Ems.api(path);
      const list = Array.isArray(rows) ? rows : [rows];
      target.replaceChildren(table(list, columnsOf(list)));
    } catch (error) {
      target.replaceChildren(h("p", { class: "error" }, `${what}: ${error.message}`));
    }
  }

  async function accounts() {
    const target = body("accounts");
    const list = await Ems.api("/api/v1/accounts");
    const columns = [["id", "Id"], ["kind", "Kind"], ["name", "Name"], ["currency", "Currency"],
      ["balance", "Balance"], ["held", "Held"], ["available", "Available"],
      ["credit_limit", "Credit limit"], ["status", "Status"]];
    const parts = [table(list, columns)];
    if (admin) {
      const form = h("form", { class: "inline-form", id: "account-form" },
        h("label", {}, "Kind", h("select", { name: "kind" },
          h("option", { value: "wallet" }, "wallet"), h("option", { value: "fleet" }, "fleet"))),
        h("label", {}, "Name", h("input", { name: "name", maxlength: 200 })),
        h("label", {}, "Currency", h("input", { name: "currency", value: "EUR", pattern: "[A-Z]{3}",
          required: true, size: 4 })),
        h("button", { type: "submit" }, "Open account"));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          await Ems.api("/api/v1/accounts", { method: "POST", body: {
            kind: form.elements.kind.value, name: form.elements.name.value.trim(),
            currency: form.elements.currency.value } });
          await accounts();
        } catch (error) {
          Ems.message(error.message);
        }
      });
      parts.push(form);
    }
    target.replaceChildren(...parts);
  }

  const features = Ems.features;
  await Promise.all([
    apiTokens(),
    features.id_tokens ? generic("id-tokens", "/api/v1/id-tokens", "Id tokens")
      : body("id-tokens").replaceChildren(notHere("Id tokens")),
    features.accounts ? accounts() : body("accounts").replaceChildren(notHere("Accounts")),
    features.tariffs ? generic("tariffs", "/api/v1/tariffs", "Tariffs")
      : body("tariffs").replaceChildren(notHere("Tariffs")),
  ]);
})();
