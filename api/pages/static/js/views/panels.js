// The chart panels of the participant page: each loads its metric for the shared range, shows loading,
// error (with retry) and no-data states, and draws its chart with the range's gaps shaded.

import { describe } from "../api.js";
import { timeChart } from "../chart.js";
import { formatTime, h, mount, stateBox } from "../dom.js";
import { attachInteraction } from "../interact.js";
import { loadBand, loadBars, loadHypnogram } from "../series.js";

export const PANELS = [
  { metric: "heart_rate", title: "Heart rate", unit: "bpm", height: 220, load: loadBand, what: "heart-rate" },
  { metric: "steps", title: "Steps", unit: "steps", height: 140, load: loadBars, what: "step" },
  { metric: "spo2", title: "SpO2", unit: "%", height: 140, load: loadBand, what: "SpO2" },
  { metric: "hrv_rmssd", title: "HRV (RMSSD)", unit: "ms", height: 140, load: loadBand, what: "HRV" },
  { metric: "sleep_stage", title: "Sleep stages", unit: "", height: 160, load: loadHypnogram, what: "sleep" },
];

export class Panel {
  /** `context`: { participantId, timeZone, onRange(start, end) }. */
  constructor(spec, context) {
    this.spec = spec;
    this.context = context;
    this.controller = null;
    this.result = null;
    this.note = h("span", { class: "note" }, spec.unit);
    this.readout = h("output", { class: "readout", "aria-live": "off" });
    this.body = h("div", { class: "chart-body" });
    this.element = h("figure", { class: "panel chart-panel", id: `chart-${spec.metric}`, "data-metric": spec.metric },
      h("figcaption", {}, h("h2", {}, spec.title), this.note, this.readout), this.body);
  }

  width() {
    return Math.max(320, Math.floor(this.body.clientWidth || this.element.clientWidth || 800));
  }

  /** Loads the range (cancelling a load still running) and draws it; `gaps` is a promise of gap list. */
  async load(start, end, gaps) {
    if (this.controller) this.controller.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.body.setAttribute("aria-busy", "true");
    this.element.dataset.state = "loading";
    if (!this.body.querySelector("svg")) mount(this.body, stateBox("loading", `Loading ${this.spec.what} data…`));
    try {
      const { metric, unit } = this.spec;
      const [result, gapList] = await Promise.all([
        this.spec.load(this.context.participantId, metric, unit, start, end, this.width(), controller.signal),
        gaps,
      ]);
      if (controller.signal.aborted) return;
      this.result = { ...result, start, end, gaps: gapList };
      this.draw();
    } catch (error) {
      if (error.name === "AbortError" || controller.signal.aborted) return;
      this.element.dataset.state = "error";
      const retry = h("button", { type: "button", onclick: () => this.load(start, end, gaps) }, "Retry");
      mount(this.body, stateBox("error", `${this.spec.title}: ${describe(error)}`, retry));
    } finally {
      if (this.controller === controller) this.body.removeAttribute("aria-busy");
    }
  }

  /** Draws the last result again (after a resize). */
  draw() {
    const r = this.result;
    if (!r) return;
    const { timeZone, onRange } = this.context;
    const period = `${formatTime(r.start, timeZone, "full")} to ${formatTime(r.end, timeZone, "full")}`;
    const chart = timeChart({
      label: this.spec.title, width: this.width(), height: this.spec.height, start: r.start, end: r.end, timeZone,
      series: r.series, gaps: r.gaps, yDomain: r.yDomain, yTicks: r.yTicks,
      description: `${this.spec.title} from ${period}: ${r.count} points (${r.note}); ${r.gaps.length} gaps shaded.`,
    });
    attachInteraction(chart, {
      start: r.start, end: r.end, onRange, output: this.readout, readout: (ms) => {
        const value = r.readout(ms);
        return value ? `${formatTime(ms, timeZone, "datetime")} · ${value}` : "";
      },
    });
    this.note.textContent = [this.spec.unit, r.note].filter(Boolean).join(" · ");
    this.readout.textContent = "";
    const parts = [chart.svg];
    if (!r.count) parts.push(stateBox("empty", `No ${this.spec.what} data in this range.`));
    mount(this.body, ...parts);
    this.element.dataset.state = r.count ? "ready" : "empty";
  }

  /** Hands the panel's body to someone else (live mode) until the next load. */
  release() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.result = null;
  }

  abort() {
    if (this.controller) this.controller.abort();
  }
}
