// Sign in with an API key: checked against the API before it is kept (in the `wearstream_token` cookie).

import { ApiError, get } from "../api.js";
import { h, mount } from "../dom.js";
import { looksLikeKey, signIn, takeNotice } from "../session.js";

/** Renders the form; after signing in, goes to `returnTo` (the hash the user asked for) or the cohort. */
export function renderLogin(root, returnTo) {
  const notice = takeNotice();
  const input = h("input", {
    id: "api-key", name: "api-key", type: "password", autocomplete: "off", spellcheck: "false",
    required: true, "aria-describedby": "api-key-help", placeholder: "wsk_…",
  });
  const message = h("p", { class: "form-message", role: "alert", id: "login-message" }, notice);
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form", { class: "login-form", novalidate: true },
    h("label", { for: "api-key" }, "API key"),
    input,
    h("p", { id: "api-key-help", class: "help" },
      "A key from ", h("code", {}, "wearstream apikey create --role researcher"),
      ". It is kept in a cookie in this browser until you sign out."),
    message,
    button,
  );
  const controller = new AbortController();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!looksLikeKey(key)) {
      message.textContent = "That does not look like a wearstream key (wsk_<key id>_<secret>).";
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    button.disabled = true;
    message.textContent = "Checking the key…";
    try {
      await get("/v1/participants", { limit: 1 }, { key, signal: controller.signal });
    } catch (error) {
      if (error.name === "AbortError" || controller.signal.aborted) return;
      if (!(error instanceof ApiError && error.kind === "forbidden")) {
        message.textContent = error instanceof ApiError && error.kind === "auth"
          ? "The API does not accept this key: unknown, expired or revoked."
          : error.message;
        input.setAttribute("aria-invalid", "true");
        button.disabled = false;
        input.focus();
        return;
      }
      // A participant key: valid, but for its own participant's pages only.
    }
    signIn(key);
    const target = returnTo && !returnTo.startsWith("#/login") ? returnTo : "#/";
    if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = target;
  });

  mount(
    root,
    h("section", { class: "panel login" },
      h("h1", {}, "Sign in"),
      h("p", {}, "The study's cohort, participants and adherence, straight from the wearstream API."),
      form),
  );
  input.focus();
  return () => controller.abort();
}
