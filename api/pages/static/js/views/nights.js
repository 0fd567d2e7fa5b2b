// The participant's nights: the nightly resting HR (NightSignal's value) with its baseline, the yellow and red
// thresholds above it and a marker on every alerted night (any detector), over the last 120 nights; below, the
// participant's alerts with their state changes.

import { describe, get } from "../api.js";
import { timeChart } from "../chart.js";
import { formatTime, h, mount, number, stateBox, zoneOffsetMs } from "../dom.js";
import { DETECTOR_LABELS, judged, levelBadge, stateText } from "./alerts.js";

const DAY = 86_400_000;
const NIGHTS = 120;
/** NightSignal's published thresholds above the baseline, which the processor runs with. */
export const THRESHOLDS = { yellow: 3, red: 4 };
const RANK = { yellow: 1, red: 2 };

/** 07:00 local on the night's date (the morning that ends it), as epoch ms. */
function morningMs(night, timeZone) {
  const [y, m, d] = night.split("-").map(Number);
  const wall = Date.UTC(y, m - 1, d, 7);
  return wall - zoneOffsetMs(wall - zoneOffsetMs(wall, timeZone), timeZone);
}

function isoDate(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The nights to show: the 120 up to the local date of the participant's last reading (or today). */
function nightRange(detail) {
  const last = Math.max(0, ...detail.metrics.map((m) => Date.parse(m.last_reading)));
  const at = last || Date.now();
  const end = isoDate(at + zoneOffsetMs(at, detail.timezone || "UTC") + DAY);
  return [isoDate(Date.parse(end) - NIGHTS * DAY), end];
}

function seriesOf(nights, timeZone) {
  const resting = [];
  const baseline = [];
  const yellow = [];
  const red = [];
  const markers = [];
  for (const night of nights) {
    const t = morningMs(night.night, timeZone);
    const signal = night.detectors.find((v) => v.detector === "nightsignal");
    const value = signal && signal.value !== null ? signal.value : night.resting_hr;
    if (value !== null) resting.push({ t, v: value });
    if (signal && signal.baseline !== null) {
      baseline.push({ t, v: signal.baseline });
      yellow.push({ t, v: signal.baseline + THRESHOLDS.yellow });
      red.push({ t, v: signal.baseline + THRESHOLDS.red });
    }
    const alerted = night.detectors.filter((v) => v.level);
    if (alerted.length && value !== null) {
      const top = alerted.reduce((a, b) => (RANK[b.level] > RANK[a.level] ? b : a)).level;
      const names = alerted.map((v) => `${DETECTOR_LABELS[v.detector] || v.detector} ${v.level}`).join(", ");
      markers.push({ t, v: value, level: top, title: `${night.night}: ${number(value, 1, "bpm")}, ${names}` });
    }
  }
  const line = (name, points, className) => ({ name, kind: "line", points, breakMs: 3 * DAY, className });
  return [
    line("red", red, "threshold threshold-red"),
    line("yellow", yellow, "threshold threshold-yellow"),
    line("baseline", baseline, "baseline"),
    line("resting", resting, "resting"),
    { name: "alerts", kind: "dots", points: markers },
  ];
}

function alertTable(items) {
  if (!items.length) return stateBox("empty", "No alerts for this participant.");
  return h("div", { class: "table-wrap" }, h("table", { class: "alerts participant-alerts" },
    h("caption", { class: "visually-hidden" }, "This participant's alerts, newest night first"),
    h("thead", {}, h("tr", {}, ["Night (morning)", "Level", "Detector", "Value", "Baseline or threshold", "State (UTC)"]
      .map((label) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, items.slice().reverse().map((a) => h("tr", { "data-level": a.level, "data-state": a.state },
      h("th", { scope: "row" }, h("time", { datetime: a.night }, a.night)), h("td", {}, levelBadge(a.level)),
      h("td", {}, DETECTOR_LABELS[a.detector] || a.detector), judged(a).map((text) => h("td", {}, text)),
      h("td", { class: `state-cell state-${a.state}` }, stateText(a)))))));
}

/** The nights panel of a participant page; `signal` aborts its requests. Returns its element. */
export function nightsPanel(detail, signal) {
  const timeZone = detail.timezone || "UTC";
  const body = h("div", { class: "chart-body" }, stateBox("loading", "Loading the nights…"));
  const alerts = h("div", { class: "alerts-list" });
  const note = h("span", { class: "note" }, `bpm · last ${NIGHTS} nights`);
  const element = h("figure", { class: "panel chart-panel", id: "chart-nights", "data-state": "loading" },
    h("figcaption", {}, h("h2", {}, "Nightly resting heart rate"), note), body,
    h("p", { class: "legend" }, h("span", { class: "swatch swatch-resting" }), " resting HR  ",
      h("span", { class: "swatch swatch-baseline" }), " baseline (median of the nights so far)  ",
      h("span", { class: "swatch swatch-yellow" }), ` + ${THRESHOLDS.yellow} bpm (yellow)  `,
      h("span", { class: "swatch swatch-red" }), ` + ${THRESHOLDS.red} bpm (red)  `,
      h("span", { class: "swatch swatch-alert" }), " alerted night"),
    h("h3", {}, "Alerts"), alerts);
  const [start, end] = nightRange(detail);
  const path = `/v1/participants/${encodeURIComponent(detail.participant_id)}`;
  let nights = [];
  const draw = () => {
    const width = Math.max(320, Math.floor(body.clientWidth || element.clientWidth || 800));
    // From a few nights before the first one shown (the range's start at most), to the range's end.
    const first = nights.length ? morningMs(nights[0].night, timeZone) - 3 * DAY : 0;
    const from = Math.max(morningMs(start, timeZone) - DAY / 2, first);
    const to = morningMs(end, timeZone) - DAY / 2;
    const series = seriesOf(nights, timeZone);
    const chart = timeChart({ label: "Nightly resting heart rate", width, height: 220, start: from, end: to, timeZone,
      series, description: `${nights.length} nights from ${start} to ${end}; ${series[4].points.length} alerted.` });
    mount(body, chart.svg, nights.length ? null : stateBox("empty", "No nights computed in this range yet."));
    element.dataset.state = nights.length ? "ready" : "empty";
  };
  Promise.all([get(`${path}/nights`, { start, end }, { signal }), get(`${path}/alerts`, { limit: 1000 }, { signal })])
    .then(([nightPage, alertPage]) => {
      nights = nightPage.items;
      draw();
      mount(alerts, alertTable(alertPage.items));
      const span = nights.length ? `, ${formatTime(morningMs(nights[0].night, timeZone), timeZone, "date")} – `
        + formatTime(morningMs(nights.at(-1).night, timeZone), timeZone, "date") : "";
      note.textContent = `bpm · ${nights.length} of the last ${NIGHTS} nights${span}`;
    })
    .catch((error) => {
      if (error.name === "AbortError" || signal.aborted) return;
      element.dataset.state = "error";
      mount(body, stateBox("error", `Nights: ${describe(error)}`));
    });
  return { element, redraw: () => nights.length && draw() };
}
