// The app shell: routes the hash (#/, #/participants/<id>, #/adherence, #/alerts, #/login) to a page, sends whoever
// has no key (or a refused one) to the sign-in form, and ends the previous page (requests, sockets).

import { setAuthFailureHandler } from "./api.js";
import { h, mount, stateBox } from "./dom.js";
import { parseHash } from "./router.js";
import { signOut, token } from "./session.js";
import { renderAdherence } from "./views/adherence.js";
import { renderAlerts } from "./views/alerts.js";
import { renderCohort } from "./views/cohort.js";
import { renderLogin } from "./views/login.js";
import { renderParticipant } from "./views/participant.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signOutButton = document.getElementById("sign-out");
let cleanup = null;

function chooseView(path) {
  if (path[0] === "participants" && path[1]) return (node, params) => renderParticipant(node, path[1], params);
  if (path[0] === "adherence") return renderAdherence;
  if (path[0] === "alerts") return renderAlerts;
  if (path.length === 0) return renderCohort;
  return null;
}

function highlightNav(path) {
  const current = ["adherence", "alerts"].includes(path[0]) ? path[0] : path.length === 0 ? "cohort" : "";
  for (const link of nav.querySelectorAll("a[data-nav]")) {
    if (link.dataset.nav === current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function route() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const { path, params } = parseHash();
  const signedIn = Boolean(token());
  nav.hidden = !signedIn;
  signOutButton.hidden = !signedIn;
  if (!signedIn || path[0] === "login") {
    document.title = "Sign in · wearstream";
    cleanup = renderLogin(main, path[0] === "login" ? "" : location.hash);
    return;
  }
  highlightNav(path);
  const view = chooseView(path);
  if (!view) {
    document.title = "Not found · wearstream";
    mount(main, stateBox("error", "There is no such page.", h("a", { href: "#/" }, "Open the cohort")));
    return;
  }
  try {
    cleanup = view(main, params) || null;
  } catch (error) {
    mount(main, stateBox("error", `This page failed to render: ${error.message}`));
  }
}

signOutButton.addEventListener("click", () => {
  signOut();
  location.hash = "#/login";
});
setAuthFailureHandler(() => {
  if (parseHash().path[0] !== "login") route();
});
window.addEventListener("hashchange", route);
route();
