// The cohort's illness alerts: every open alert (raised, upgraded or downgraded; withdrawn ones on request)
// with its participant, level, detector, night, value against baseline and when its state last changed,
// newest night first; filters by level and detector (done by the API), each row a link to the participant.

import { ApiError, describe, get } from "../api.js";
import { formatTime, h, mount, number, stateBox } from "../dom.js";
import { focusHeading, participantHref, replaceParams } from "../router.js";

const PAGE_SIZE = 1000;
const MAX_PAGES = 20;
export const DETECTOR_LABELS = { nightsignal: "NightSignal", cusum: "CuSum" };
export const STATE_LABELS = { raised: "raised", upgraded: "upgraded", downgraded: "downgraded", withdrawn: "withdrawn" };

export function levelBadge(level) {
  return h("span", { class: `badge level-${level}` }, level);
}

/** The alert's state and when it changed: "upgraded 2 Dec 06:10 (raised 1 Dec 07:12)". */
export function stateText(alert) {
  const updated = formatTime(Date.parse(alert.updated_at), "UTC", "datetime");
  const created = formatTime(Date.parse(alert.created_at), "UTC", "datetime");
  const label = STATE_LABELS[alert.state] || alert.state;
  return alert.state === "raised" ? `${label} ${updated}` : `${label} ${updated} (raised ${created})`;
}

/** An alert's value and what it was judged against: bpm for NightSignal, CuSum's W and its threshold. */
export function judged(alert) {
  if (alert.detector === "cusum") return [`W ${number(alert.value, 1)}`, `threshold ${number(alert.baseline, 1)}`];
  return [number(alert.value, 1, "bpm"), number(alert.baseline, 1, "bpm")];
}

function select(id, label, options, value) {
  return [h("label", { for: id }, label), h("select", { id, name: id },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)))];
}

function row(alert) {
  const tr = h("tr", { class: "row-link", "data-participant": alert.participant_id, "data-level": alert.level,
    "data-state": alert.state },
  h("th", { scope: "row" }, h("a", { href: participantHref(alert.participant_id) }, alert.participant_id)),
  h("td", {}, levelBadge(alert.level)),
  h("td", {}, DETECTOR_LABELS[alert.detector] || alert.detector),
  h("td", {}, h("time", { datetime: alert.night }, alert.night)),
  judged(alert).map((text) => h("td", { class: "num" }, text)),
  h("td", { class: `state-cell state-${alert.state}` }, stateText(alert)));
  tr.addEventListener("click", (event) => {
    if (!event.target.closest("a")) location.hash = participantHref(alert.participant_id);
  });
  return tr;
}

function table(items) {
  const head = ["Participant", "Level", "Detector", "Night (morning)", "Value", "Baseline or threshold", "State (UTC)"];
  return h("div", { class: "table-wrap" }, h("table", { class: "alerts" },
    h("caption", { class: "visually-hidden" }, "Illness alerts, newest night first"),
    h("thead", {}, h("tr", {}, head.map((label, i) => h("th", { scope: "col", class: i === 4 || i === 5 ? "num" : null },
      label)))),
    h("tbody", {}, items.map(row))));
}

export function renderAlerts(root, params) {
  const controller = new AbortController();
  const state = { level: params.get("level") || "", detector: params.get("detector") || "",
    withdrawn: params.get("withdrawn") === "1" };
  const heading = h("h1", {}, "Alerts");
  const summary = h("p", { class: "summary", role: "status" });
  const results = h("div", { class: "results" });
  const withdrawn = h("input", { id: "withdrawn", type: "checkbox", checked: state.withdrawn });
  const filters = h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
    ...select("level", "Level", [["", "any"], ["red", "red"], ["yellow", "yellow"]], state.level),
    ...select("detector", "Detector", [["", "any"], ...Object.entries(DETECTOR_LABELS)], state.detector),
    withdrawn, h("label", { for: "withdrawn" }, "Include withdrawn alerts"));
  mount(root, heading,
    h("p", { class: "help" }, "Resting-heart-rate alerts from the nightly step; a night is dated by its morning ",
      "(07:00 local). An alert is a signal to follow up, not a diagnosis."),
    filters, summary, results);
  document.title = "Alerts · wearstream";
  focusHeading(root);

  async function load() {
    const shown = { level: state.level, detector: state.detector, withdrawn: state.withdrawn ? "1" : "" };
    replaceParams(Object.fromEntries(Object.entries(shown).filter(([, v]) => v)));
    mount(results, stateBox("loading", "Loading alerts…"));
    try {
      let items = [];
      let cursor = null;
      let pages = 0;
      do {
        const page = await get("/v1/alerts", { level: state.level, detector: state.detector, limit: PAGE_SIZE, cursor },
          { signal: controller.signal });
        items = items.concat(page.items);
        cursor = page.next_cursor;
        pages += 1;
      } while (cursor && pages < MAX_PAGES);
      const open = items.filter((a) => a.state !== "withdrawn");
      const listed = (state.withdrawn ? items : open).slice().reverse();
      const people = new Set(open.map((a) => a.participant_id)).size;
      const red = open.filter((a) => a.level === "red").length;
      summary.textContent = `${open.length} open alerts (${red} red) for ${people} participants`
        + ` · ${items.length - open.length} withdrawn${cursor ? " · more than shown: narrow the filters" : ""}`;
      mount(results, listed.length ? table(listed) : stateBox("empty", "No alerts match these filters."));
    } catch (error) {
      if (error.name === "AbortError" || controller.signal.aborted) return;
      const retry = h("button", { type: "button", onclick: load }, "Retry");
      const hint = error instanceof ApiError && error.kind === "forbidden"
        ? h("p", {}, "This key reads one participant: their alerts are on their page.") : null;
      mount(results, stateBox("error", describe(error), hint, retry));
    }
  }
  for (const name of ["level", "detector"]) {
    filters.querySelector(`#${name}`).addEventListener("change", (event) => {
      state[name] = event.target.value;
      load();
    });
  }
  withdrawn.addEventListener("change", () => {
    state.withdrawn = withdrawn.checked;
    load();
  });
  load();
  return () => controller.abort();
}
