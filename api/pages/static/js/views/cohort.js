// The cohort: every participant with status, last upload, 7-day wear, open gaps and adherence flags;
// filters, sorting by column (done by the API), paging, each row a link to the participant; below, the
// cohort's gap events as they happen.

import { ApiError, describe, get } from "../api.js";
import { FLAG_LABELS, ago, debounce, flagBadge, formatTime, h, mount, number, stateBox } from "../dom.js";
import { focusHeading, participantHref, replaceParams } from "../router.js";
import { gapEventsPanel } from "./events.js";

const PAGE_SIZE = 200;
const COLUMNS = [
  { key: "participant_id", label: "Participant", sort: "participant_id" },
  { key: "authorisation", label: "Status" },
  { key: "last_upload", label: "Last upload", sort: "last_upload" },
  { key: "wear_pct_7d", label: "Wear (7 days)", sort: "wear_pct", numeric: true },
  { key: "nights_with_sleep_7d", label: "Nights with sleep (7 days)", numeric: true },
  { key: "open_gaps", label: "Open gaps", sort: "open_gaps", numeric: true },
  { key: "flags", label: "Flags" },
];

function cell(item, key) {
  switch (key) {
    case "participant_id":
      return h("th", { scope: "row" }, h("a", { href: participantHref(item.participant_id) }, item.participant_id));
    case "authorisation":
      return h("td", {}, h("span", { class: `badge status-${item.authorisation}` }, item.authorisation));
    case "last_upload":
      return h("td", { title: item.last_upload || "no upload" }, ago(item.hours_since_last_upload));
    case "wear_pct_7d":
      return h("td", { class: "num" }, h("span", { class: "meter", "aria-hidden": "true" },
        h("span", { class: "meter-fill", "data-pct": Math.round(item.wear_pct_7d ?? 0) })),
      number(item.wear_pct_7d, 1, "%"));
    case "nights_with_sleep_7d":
      return h("td", { class: "num" }, String(item.nights_with_sleep_7d));
    case "open_gaps":
      return h("td", { class: "num" },
        item.open_gaps ? `${item.open_gaps} · ${item.open_gap_kinds.join(", ").replaceAll("_", " ")}` : "0");
    default:
      return h("td", {}, item.flags.length ? h("span", { class: "badges" }, item.flags.map(flagBadge)) : "—");
  }
}

/** For participant keys, which cannot read the cohort: open the key's own participant. */
function ownParticipantForm() {
  const input = h("input", { id: "own-participant", autocomplete: "off", required: true });
  return h("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    if (input.value.trim()) location.hash = participantHref(input.value.trim());
  } }, h("label", { for: "own-participant" }, "This key reads one participant's data. Participant id"), input,
  h("button", { type: "submit" }, "Open"));
}

function select(id, label, options, value) {
  return [h("label", { for: id }, label), h("select", { id, name: id },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)))];
}

export function renderCohort(root, params) {
  const controller = new AbortController();
  const state = {
    sort: params.get("sort") || "participant_id", q: params.get("q") || "",
    flag: params.get("flag") || "", authorisation: params.get("authorisation") || "",
  };
  const summary = h("p", { class: "summary", role: "status" });
  const results = h("div", { class: "results" });
  const heading = h("h1", {}, "Cohort");
  const search = h("input", { id: "q", type: "search", value: state.q, placeholder: "P00…", autocomplete: "off" });
  const filters = h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
    h("label", { for: "q" }, "Participant id starts with"), search,
    ...select("flag", "Flag", [["", "any"], ...Object.entries(FLAG_LABELS)], state.flag),
    ...select("authorisation", "Status", [["", "any"], ["authorised", "authorised"], ["expired", "expired"],
      ["revoked", "revoked"], ["never", "never authorised"]], state.authorisation));
  const events = gapEventsPanel();
  mount(root, heading, filters, summary, results, events.element);
  document.title = "Cohort · wearstream";
  focusHeading(root);

  let items = [];
  let nextCursor = null;
  let asOf = null;
  let total = 0;

  function headerCell(column) {
    const numeric = column.numeric ? "num" : null;
    if (!column.sort) return h("th", { scope: "col", class: numeric }, column.label);
    const active = state.sort.replace(/^-/, "") === column.sort;
    const descending = active && state.sort.startsWith("-");
    const next = active && !descending ? `-${column.sort}` : column.sort;
    const order = active ? (descending ? "descending" : "ascending") : "none";
    const mark = { ascending: " ▲", descending: " ▼", none: " ↕" }[order];
    const sortBy = () => {
      state.sort = next;
      load(false, column.sort);
    };
    return h("th", { scope: "col", class: numeric, "aria-sort": order },
      h("button", { type: "button", class: "sort", "data-sort": column.sort, onclick: sortBy },
        column.label, h("span", { class: "sort-mark", "aria-hidden": "true" }, mark)));
  }

  function draw() {
    const flagged = items.filter((i) => i.flags.length).length;
    const moment = formatTime(asOf, "UTC", "full");
    summary.textContent = `${total} participants · ${flagged} of the ${items.length} shown flagged · as of ${moment} UTC`;
    if (!items.length) {
      mount(results, stateBox("empty", "No participants match these filters."));
      return;
    }
    const rows = items.map((item) => {
      const row = h("tr", { class: "row-link", "data-participant": item.participant_id },
        COLUMNS.map((c) => cell(item, c.key)));
      row.addEventListener("click", (event) => {
        if (!event.target.closest("a")) location.hash = participantHref(item.participant_id);
      });
      return row;
    });
    const more = nextCursor
      ? h("button", { type: "button", class: "more", onclick: () => load(true) }, `Show more (${items.length} of ${total})`)
      : null;
    mount(results, h("div", { class: "table-wrap" }, h("table", { class: "cohort" },
      h("caption", { class: "visually-hidden" }, "Participants; sortable columns have buttons in their headers"),
      h("thead", {}, h("tr", {}, COLUMNS.map(headerCell))), h("tbody", {}, rows))), more);
    for (const fill of results.querySelectorAll(".meter-fill")) fill.style.width = `${fill.dataset.pct}%`;
  }

  /** Loads the first page (or the next: `append`); `refocus` names the sort button to focus afterwards. */
  async function load(append, refocus = null) {
    const shown = Object.entries(state).filter(([k, v]) => v && !(k === "sort" && v === "participant_id"));
    replaceParams(Object.fromEntries(shown));
    if (!append) mount(results, stateBox("loading", "Loading participants…"));
    try {
      const page = await get("/v1/participants", {
        sort: state.sort, q: state.q, flag: state.flag, authorisation: state.authorisation, limit: PAGE_SIZE,
        cursor: append ? nextCursor : null,
      }, { signal: controller.signal });
      items = append ? items.concat(page.items) : page.items;
      nextCursor = page.next_cursor;
      total = page.total;
      asOf = Date.parse(page.as_of);
      draw();
      if (refocus) results.querySelector(`button.sort[data-sort="${refocus}"]`)?.focus();
    } catch (error) {
      if (error.name === "AbortError" || controller.signal.aborted) return;
      const retry = h("button", { type: "button", onclick: () => load(append) }, "Retry");
      const hint = error instanceof ApiError && error.kind === "forbidden" ? ownParticipantForm() : null;
      mount(results, stateBox("error", describe(error), hint, retry));
    }
  }

  const reloadFilters = debounce(() => load(false), 250);
  search.addEventListener("input", () => {
    state.q = search.value.trim();
    reloadFilters();
  });
  for (const name of ["flag", "authorisation"]) {
    filters.querySelector(`#${name}`).addEventListener("change", (event) => {
      state[name] = event.target.value;
      load(false);
    });
  }
  load(false);
  return () => {
    controller.abort();
    events.close();
  };
}
