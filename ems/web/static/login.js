// Sign-in: check the token with the API, keep it in this tab, go where the user was going.
"use strict";

(() => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const next = new URLSearchParams(location.search).get("next");
  // Only a path on this site, never another origin.
  const target = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const value = form.elements.token.value.trim();
    Ems.signIn(value);
    try {
      await Ems.api("/web/api/me");
      location.replace(target);
    } catch (failure) {
      sessionStorage.clear();
      error.textContent = failure.status === 401
        ? "This token is unknown or revoked."
        : "Sign-in failed: " + failure.message;
    }
  });
  form.elements.token.focus();
})();
