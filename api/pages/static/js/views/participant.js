// A participant: facts from the cohort view, then heart rate, steps, SpO2, HRV and a hypnogram over one
// shared range (zoom and pan re-query the API at the zoom's resolution), gaps shaded, and a live mode in
// which the heart-rate chart advances from the websocket; below, the nightly resting HR and the alerts.
// "Imputed" (or `imputed=1` in the route) also shades the stretches an imputation run filled.

import { describe, get } from "../api.js";
import { ago, debounce, flagBadge, formatTime, h, isoUtc, mount, number, stateBox } from "../dom.js";
import { attachInteraction } from "../interact.js";
import { LiveSeries, openLive } from "../live.js";
import { focusHeading, replaceParams } from "../router.js";
import { loadGaps, loadImputed } from "../series.js";
import { nightsPanel } from "./nights.js";
import { PANELS, Panel } from "./panels.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PRESETS = [["1 h", HOUR], ["6 h", 6 * HOUR], ["1 day", DAY], ["7 days", 7 * DAY], ["30 days", 30 * DAY]];
const LIVE_TEXT = {
  connecting: "Connecting to the live feed…",
  open: "Live: connected, waiting for uploads.",
  reconnecting: "Live feed lost: reconnecting…",
  closed: "Live feed closed",
  expired: "The key was refused.",
};

function facts(detail) {
  const item = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  const gaps = detail.open_gaps
    ? `${detail.open_gaps} (${detail.open_gap_kinds.join(", ").replaceAll("_", " ")})` : "none";
  return h("dl", { class: "facts" },
    item("Status", h("span", { class: `badge status-${detail.authorisation}` }, detail.authorisation)),
    item("Time zone", detail.timezone),
    item("Enrolled", detail.enrolled_on),
    item("Device", detail.device_id),
    item("Last upload", h("span", { title: detail.last_upload || "" }, ago(detail.hours_since_last_upload))),
    item("Wear (7 days)", number(detail.wear_pct_7d, 1, "%")),
    item("Nights with sleep (7 days)", String(detail.nights_with_sleep_7d)),
    item("Open gaps", gaps),
    item("Flags", detail.flags.length ? h("span", { class: "badges" }, detail.flags.map(flagBadge)) : "none"));
}

/** The default range: the day up to the participant's last reading (or up to now without data). */
function defaultRange(detail) {
  const last = Math.max(0, ...detail.metrics.map((m) => Date.parse(m.last_reading)));
  const end = Math.ceil(((last || Date.now()) + 1) / 60_000) * 60_000;
  return [end - DAY, end];
}

/** Live mode of the heart-rate panel: start() opens the feed and draws each message; stop() closes it. */
function liveMode(participantId, panel, timeZone, statusLine) {
  let close = null;
  let frame = 0;
  let live = null;
  const draw = () => {
    frame = 0;
    const chart = live.draw(panel.width(), panel.spec.height, timeZone);
    attachInteraction(chart, {
      start: 0, end: 1, onRange: null, output: panel.readout, readout: (ms) => live.readout(ms, timeZone),
    });
    panel.note.textContent = "bpm · live: 1 min band and mean, readings";
    mount(panel.body, chart.svg);
    panel.element.dataset.state = "live";
  };
  const onMessage = (message) => {
    if (message.type === "error") statusLine.textContent = `Live feed: ${message.detail}`;
    else if (live.add(message) && !frame) frame = requestAnimationFrame(draw);
    if (message.type === "live") {
      const at = formatTime(live.lastReading, timeZone, "time");
      statusLine.textContent = `Live: last reading ${at} (${live.updates} updates).`;
    }
  };
  const onState = (state, detail) => {
    statusLine.dataset.state = state;
    statusLine.textContent = detail ? `${LIVE_TEXT[state]}: ${detail}` : LIVE_TEXT[state];
    if (state === "expired") window.dispatchEvent(new HashChangeEvent("hashchange"));
    if (state === "open" && !live.latest) {
      mount(panel.body, stateBox("empty", "No heart rate in the last 30 minutes yet: waiting for the next upload."));
    }
  };
  return {
    get on() { return close !== null; },
    start() {
      live = new LiveSeries();
      panel.release();
      mount(panel.body, stateBox("loading", "Waiting for the live feed…"));
      close = openLive(participantId, "heart_rate", { onMessage, onState });
    },
    stop() {
      if (close) close();
      close = null;
      cancelAnimationFrame(frame);
      frame = 0;
      statusLine.dataset.state = "off";
      statusLine.textContent = "";
    },
    redraw() {
      if (close && live.latest) draw();
    },
  };
}

function breadcrumb(participantId) {
  return h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" },
    h("a", { href: "#/" }, "Cohort"), " › ", participantId);
}

function showParticipant(root, heading, detail, params, signal) {
  const { participant_id: participantId } = detail;
  const timeZone = detail.timezone || "UTC";
  let [start, end] = defaultRange(detail);
  if (params.get("start") && params.get("end")) {
    [start, end] = [Date.parse(params.get("start")), Date.parse(params.get("end"))];
  }
  const rangeText = h("p", { class: "range-text", "aria-live": "polite" });
  const liveStatus = h("p", { class: "live-status", role: "status", "data-state": "off" });
  const liveButton = h("button", { type: "button", class: "live-toggle", "aria-pressed": "false" }, "Live");
  let showImputed = params.get("imputed") === "1";
  const imputedButton = h("button", {
    type: "button", class: "imputed-toggle", "aria-pressed": String(showImputed),
    title: "Shade the minutes the latest imputation run filled",
  }, "Imputed");
  const rangeButtons = [];
  const button = (label, onclick, title) => {
    const b = h("button", { type: "button", onclick, title: title || label, "aria-label": title || label }, label);
    rangeButtons.push(b);
    return b;
  };
  const panels = PANELS.map((spec) => new Panel(spec, { participantId, timeZone, onRange: (a, b) => setRange(a, b) }));
  const live = liveMode(participantId, panels[0], timeZone, liveStatus);
  const nights = nightsPanel(detail, signal);

  const reload = debounce(() => {
    const imputed = showImputed ? loadImputed(participantId, start, end, signal).catch(() => []) : [];
    const gaps = Promise.all([loadGaps(participantId, start, end, signal).catch(() => []), imputed])
      .then(([found, filled]) => [...found, ...filled]);
    for (const panel of panels) if (!(live.on && panel === panels[0])) panel.load(start, end, gaps);
  }, 120);
  function setRange(a, b) {
    const span = Math.min(Math.max(b - a, 10 * 60_000), 3 * 365 * DAY);
    [start, end] = [Math.round(a), Math.round(a + span)];
    rangeText.textContent = `${formatTime(start, timeZone, "full")} – ${formatTime(end, timeZone, "full")} (${timeZone})`;
    replaceParams({ start: isoUtc(start), end: isoUtc(end), ...(showImputed ? { imputed: "1" } : {}) });
    reload();
  }
  const zoom = (factor) => {
    const center = (start + end) / 2;
    setRange(center - ((end - start) * factor) / 2, center + ((end - start) * factor) / 2);
  };
  const pan = (fraction) => setRange(start + (end - start) * fraction, end + (end - start) * fraction);
  const first = Math.min(...detail.metrics.map((m) => Date.parse(m.first_reading)));
  const all = () => setRange(Number.isFinite(first) ? first : end - DAY, defaultRange(detail)[1]);

  liveButton.addEventListener("click", () => {
    const on = !live.on;
    liveButton.setAttribute("aria-pressed", String(on));
    for (const b of rangeButtons) b.disabled = on;
    if (on) live.start();
    else {
      live.stop();
      setRange(start, end);
    }
  });
  imputedButton.addEventListener("click", () => {
    showImputed = !showImputed;
    imputedButton.setAttribute("aria-pressed", String(showImputed));
    setRange(start, end);
  });
  const toolbar = h("div", { class: "toolbar", role: "toolbar", "aria-label": "Time range" },
    button("◀ Earlier", () => pan(-0.5), "Earlier (pan left)"),
    button("Later ▶", () => pan(0.5), "Later (pan right)"),
    button("Zoom in", () => zoom(0.5)),
    button("Zoom out", () => zoom(2)),
    h("span", { class: "separator", "aria-hidden": "true" }),
    PRESETS.map(([label, span]) => button(label, () => setRange(end - span, end), `Show ${label} up to the range's end`)),
    button("All", all, "All data"),
    h("span", { class: "separator", "aria-hidden": "true" }),
    liveButton,
    imputedButton);
  mount(root, breadcrumb(participantId), heading, facts(detail), toolbar, rangeText, liveStatus,
    h("p", { class: "help" }, "Drag or use ← → on a chart to pan, the wheel or + − to zoom. Times in ", timeZone, "."),
    h("div", { class: "charts" }, panels.map((p) => p.element)),
    h("p", { class: "legend" }, h("span", { class: "swatch gap-not_worn" }), " not worn  ",
      h("span", { class: "swatch gap-not_synced" }), " not synced  ",
      h("span", { class: "swatch gap-imputed" }), " imputed (with Imputed on; never mixed into the readings)"),
    nights.element);
  setRange(start, end);
  const onResize = debounce(() => {
    if (live.on) live.redraw();
    else panels.forEach((p) => p.draw());
    nights.redraw();
  }, 200);
  window.addEventListener("resize", onResize, { signal });
  return () => {
    live.stop();
    for (const panel of panels) panel.abort();
  };
}

export function renderParticipant(root, participantId, params) {
  const controller = new AbortController();
  let stop = null;
  const heading = h("h1", {}, `Participant ${participantId}`);
  mount(root, breadcrumb(participantId), heading, stateBox("loading", "Loading the participant…"));
  document.title = `${participantId} · wearstream`;
  focusHeading(root);
  get(`/v1/participants/${encodeURIComponent(participantId)}`, {}, { signal: controller.signal })
    .then((detail) => {
      if (!controller.signal.aborted) stop = showParticipant(root, heading, detail, params, controller.signal);
    })
    .catch((error) => {
      if (error.name === "AbortError" || controller.signal.aborted) return;
      const what = error.kind === "not_found" ? `There is no participant ${participantId}.` : describe(error);
      mount(root, heading, stateBox("error", what, h("a", { href: "#/" }, "Back to the cohort")));
    });
  return () => {
    controller.abort();
    if (stop) stop();
  };
}
