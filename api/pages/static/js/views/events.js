// Cohort-wide gap events as they happen (`/v1/events`): who stopped wearing or syncing, and when it ended.

import { formatTime, h, mount } from "../dom.js";
import { openFeed } from "../live.js";
import { participantHref } from "../router.js";

const MAX_EVENTS = 20;
const KIND = { not_worn: "not worn", not_synced: "not synced" };
const STATE = { opened: "opened", closed: "closed", detected: "found (already over)", removed: "filled by late data" };
const STATUS = {
  connecting: "Connecting…", open: "Listening: new gaps appear here as the pipeline detects them.",
  reconnecting: "Connection lost: reconnecting…", closed: "Not available for this key.", expired: "The key was refused.",
};

function eventItem(event) {
  const since = `${formatTime(event.start_ms, "UTC", "datetime")} UTC`;
  return h("li", { class: event.alert ? "event alert" : "event", "data-participant": event.participant_id },
    h("time", { datetime: new Date(event.event_ms).toISOString() }, formatTime(event.event_ms, "UTC", "time")), " ",
    h("a", { href: participantHref(event.participant_id) }, event.participant_id), " ",
    `${KIND[event.kind] || event.kind} gap ${STATE[event.state] || event.state} (from ${since})`,
    event.alert ? h("span", { class: "badge badge-flag" }, "attention") : null);
}

/** The panel and a function that closes its socket. */
export function gapEventsPanel() {
  const status = h("p", { class: "help", role: "status" }, STATUS.connecting);
  const list = h("ol", { class: "events", reversed: true });
  const element = h("section", { class: "panel events-panel", "aria-labelledby": "events-title" },
    h("h2", { id: "events-title" }, "Live gap events"), status, list);
  const close = openFeed("/v1/events", {
    onMessage: (message) => {
      if (message.type !== "gap") return;
      list.prepend(eventItem(message));
      while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
    },
    onState: (state, detail) => {
      mount(status, detail ? `${STATUS[state]} (${detail})` : STATUS[state]);
      element.dataset.state = state;
      if (state === "expired") window.dispatchEvent(new HashChangeEvent("hashchange"));
    },
  });
  return { element, close };
}
