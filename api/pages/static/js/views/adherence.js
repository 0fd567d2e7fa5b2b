// Adherence: the participants carrying each flag over a window, and per flag a button that sends the
// reminder (POST /v1/notifications) after a confirmation dialog — a dry run unless the user unticks it.

import { describe, get, post } from "../api.js";
import { FLAG_LABELS, formatTime, h, mount, number, stateBox } from "../dom.js";
import { focusHeading, participantHref, replaceParams } from "../router.js";

const WINDOWS = [7, 14, 30, 90];
const COLUMNS = [["Participant"], ["Status"], ["Wear", true], ["Nights with sleep", true], ["Last upload (UTC)"]];
const STATUS_TEXT = {
  dry_run: "dry run (not sent)", sent: "sent", failed: "failed", no_contact: "no contact address",
  refused: "refused", pending: "pending",
};
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function flaggedTable(items) {
  const header = COLUMNS.map(([label, numeric]) => h("th", { scope: "col", class: numeric ? "num" : null }, label));
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, header)),
    h("tbody", {}, items.map((i) => h("tr", {},
      h("th", { scope: "row" }, h("a", { href: participantHref(i.participant_id) }, i.participant_id)),
      h("td", {}, h("span", { class: `badge status-${i.authorisation}` }, i.authorisation)),
      h("td", { class: "num" }, number(i.wear_pct, 1, "%")),
      h("td", { class: "num" }, `${i.nights_with_sleep} of ${i.days}`),
      h("td", {}, i.last_upload ? formatTime(Date.parse(i.last_upload), "UTC", "full") : "never"))))));
}

function resultView(result) {
  const counts = {};
  for (const d of result.deliveries) counts[d.status] = (counts[d.status] || 0) + 1;
  const text = result.dry_run
    ? `Dry run: ${result.deliveries.length} reminders rendered and recorded in the audit; nothing was sent.`
    : `${result.sent} sent, ${result.failed} failed, ${counts.no_contact || 0} without a contact address.`;
  const refused = result.refused ? ` ${result.refused} refused (reminded recently or already requested).` : "";
  const line = (d) => [`${d.participant_id}: ${STATUS_TEXT[d.status] || d.status}`,
    d.recipient ? ` (${d.recipient})` : "", d.error ? ` — ${d.error}` : ""].join("");
  return [h("p", {}, text, refused, " Request ", h("code", {}, result.request_id), "."),
    h("ul", { class: "deliveries" }, result.deliveries.map((d) => h("li", {}, line(d))))];
}

/** The confirmation dialog (modal): sends the request and shows the outcome in `outlet`. */
function confirmReminder(flag, items, report, outlet) {
  const ids = items.map((i) => i.participant_id);
  // One key per dialog: sending twice (a double click, a retry) cannot remind anyone twice.
  const idempotencyKey = Array.from(crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  const dryRun = h("input", { type: "checkbox", id: "dry-run", checked: true });
  const message = h("p", { class: "form-message", role: "alert" });
  const send = h("button", { type: "submit", class: "primary", value: "send" }, "Send reminders");
  const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" },
    h("form", { method: "dialog" },
      h("h2", { id: "confirm-title" }, `Send the “${FLAG_LABELS[flag]}” reminder?`),
      h("p", {}, `To ${plural(ids.length, "participant")} (${ids.join(", ")}), by e-mail to the contact`,
        " address the study holds."),
      h("p", { class: "check" }, dryRun,
        h("label", { for: "dry-run" }, " Dry run: render and record in the audit, send no e-mail")),
      message,
      h("div", { class: "actions" },
        h("button", { type: "button", value: "cancel", onclick: () => dialog.close() }, "Cancel"), send)));
  const label = () => {
    send.textContent = dryRun.checked ? "Run the dry run" : `Send ${plural(ids.length, "e-mail")}`;
  };
  dryRun.addEventListener("change", label);
  label();
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    send.disabled = true;
    message.textContent = "Sending…";
    try {
      const result = await post("/v1/notifications", {
        flag, start: report.start, end: report.end, as_of: report.as_of, participant_ids: ids,
        dry_run: dryRun.checked, ...(dryRun.checked ? {} : { idempotency_key: idempotencyKey }),
      });
      mount(outlet, ...resultView(result));
      dialog.close();
    } catch (error) {
      message.textContent = describe(error);
      send.disabled = false;
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

export function renderAdherence(root, params) {
  let controller = new AbortController();
  const initial = WINDOWS.includes(Number(params.get("days"))) ? Number(params.get("days")) : 30;
  const windowSelect = h("select", { id: "window" },
    WINDOWS.map((d) => h("option", { value: d, selected: d === initial }, `${d} days`)));
  const results = h("div", { class: "results" });
  mount(root, h("h1", {}, "Adherence"), h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
    h("label", { for: "window" }, "Window: the full days (UTC) before today, last"), windowSelect), results);
  document.title = "Adherence · wearstream";
  focusHeading(root);

  async function load() {
    controller.abort();
    controller = new AbortController();
    const days = Number(windowSelect.value);
    replaceParams(days === 30 ? {} : { days });
    mount(results, stateBox("loading", "Loading adherence…"));
    const today = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
    const start = new Date(today.getTime() - days * 86_400_000).toISOString().slice(0, 10);
    let report;
    try {
      report = await get("/v1/adherence", { start, daily: false }, { signal: controller.signal });
    } catch (error) {
      if (error.name === "AbortError" || controller.signal.aborted) return;
      mount(results, stateBox("error", describe(error), h("button", { type: "button", onclick: load }, "Retry")));
      return;
    }
    const flagged = report.items.filter((i) => i.flags.length);
    const t = report.thresholds;
    const parts = [h("p", { class: "summary", role: "status" },
      `${flagged.length} of ${report.items.length} participants flagged over ${report.start} – ${report.end}`,
      " (end exclusive). ",
      `Thresholds: wear below ${t.min_wear_pct} %, no upload for ${t.max_upload_age_h} h, `,
      `sleep data on fewer than ${t.min_sleep_pct} % of nights.`)];
    if (!flagged.length) parts.push(stateBox("empty", "No participant is flagged in this window."));
    for (const flag of Object.keys(FLAG_LABELS)) {
      const items = report.items.filter((i) => i.flags.includes(flag));
      if (!items.length) continue;
      const outlet = h("div", { class: "notify-result", role: "status" });
      const button = h("button", { type: "button", class: "primary", "data-flag": flag,
        onclick: () => confirmReminder(flag, items, report, outlet) },
        `Send reminder to ${plural(items.length, "participant")}…`);
      parts.push(h("section", { class: "panel flag-section", id: `flag-${flag}` },
        h("div", { class: "section-head" }, h("h2", {}, `${FLAG_LABELS[flag]} · ${items.length}`), button),
        flaggedTable(items), outlet));
    }
    mount(results, ...parts);
  }

  windowSelect.addEventListener("change", load);
  load();
  return () => controller.abort();
}
