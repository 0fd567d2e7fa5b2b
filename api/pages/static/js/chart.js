// Our own small SVG time chart: a shared time axis (in the participant's zone), y axis, shaded gaps, and
// series drawn as a min/max band, a line, bars, steps (the hypnogram) or dots (markers). No third-party code.

import { formatTime, s, zoneOffsetMs } from "./dom.js";

const MARGIN = { top: 10, right: 14, bottom: 26, left: 52 };
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY,
  2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 365 * DAY];

/** Round numbers in [lo, hi], 1, 2 or 5 × 10^k apart: the spacing nearest to (hi − lo) / count that still
 * gives two ticks. */
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const distance = (m) => Math.abs(Math.log(m / raw));
  const steps = [0.5, 1, 2, 5, 10].map((m) => m * power).sort((a, b) => distance(a) - distance(b));
  let ticks = [];
  for (const step of steps) {
    ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toFixed(10));
    if (ticks.length >= 2) break;
  }
  return ticks;
}

/** The instants whose wall-clock time in `timeZone` is `local` (ms of a UTC-read wall clock): none in a
 * spring-forward gap, two in a repeated autumn hour. `near` are offsets in force around it. */
function instantsAt(local, timeZone, near) {
  const offsets = new Set(near);
  for (const o of near) offsets.add(zoneOffsetMs(local - o, timeZone));
  const found = [];
  for (const o of offsets) {
    const t = local - o;
    if (zoneOffsetMs(t, timeZone) === o && !found.includes(t)) found.push(t);
  }
  return found.sort((a, b) => a - b);
}

/** Tick instants between start and end at local (zone) wall-clock boundaries of a step fitting the width:
 * across a daylight-saving change every tick stays on its local hour (or day), since each one is placed with
 * the offset in force at that tick, not the one at `start`. */
export function timeTicks(start, end, width, timeZone) {
  const wanted = Math.max(2, Math.floor(width / 110));
  const step = TIME_STEPS.find((candidate) => (end - start) / candidate <= wanted) || TIME_STEPS.at(-1);
  const near = [zoneOffsetMs(start, timeZone), zoneOffsetMs(end, timeZone)];
  const first = Math.ceil((start + Math.min(...near)) / step) * step;
  const last = end + Math.max(...near);
  const ticks = [];
  for (let local = first; local <= last; local += step) {
    for (const t of instantsAt(local, timeZone, near)) {
      if (t >= start && t <= end && t !== ticks.at(-1)) ticks.push(t);
    }
  }
  return { ticks, step };
}

function tickLabel(ms, step, timeZone, previous) {
  if (step >= DAY) return formatTime(ms, timeZone, "date");
  const time = formatTime(ms, timeZone, "minute");
  const day = formatTime(ms, timeZone, "date");
  return previous === null || formatTime(previous, timeZone, "date") !== day ? `${day} ${time}` : time;
}

function extent(series) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const one of series) {
    for (const p of one.points) {
      const low = p.lo ?? p.v;
      const high = p.hi ?? p.v;
      if (low < lo) lo = low;
      if (high > hi) hi = high;
    }
  }
  if (!Number.isFinite(lo)) return [0, 1];
  const pad = Math.max((hi - lo) * 0.08, 1);
  return [lo - pad, hi + pad];
}

/** Splits points into runs: a new run starts after a silence longer than `breakMs` (no line across gaps). */
function runs(points, breakMs) {
  const out = [];
  let current = [];
  for (const p of points) {
    const last = current.at(-1);
    if (last && breakMs && p.t - (last.t2 ?? last.t) > breakMs) {
      out.push(current);
      current = [];
    }
    current.push(p);
  }
  if (current.length) out.push(current);
  return out;
}

const f = (v) => v.toFixed(1);

function drawSeries(one, x, y) {
  const group = s("g", { class: `series series-${one.name} ${one.className || ""}`.trim(),
    "data-series": one.name, "data-points": one.points.length });
  if (one.kind === "band" || one.kind === "line") {
    const d = runs(one.points, one.breakMs).map((run) => {
      if (one.kind === "line") {
        return run.map((p, i) => `${i ? "L" : "M"}${f(x(p.t))},${f(y(p.v))}`).join("");
      }
      const top = run.map((p, i) => `${i ? "L" : "M"}${f(x(p.t))},${f(y(p.hi))}`).join("");
      const bottom = run.slice().reverse().map((p) => `L${f(x(p.t))},${f(y(p.lo))}`).join("");
      return `${top}${bottom}Z`;
    }).join("");
    group.append(s("path", { d, class: one.kind }));
  } else if (one.kind === "bars") {
    for (const p of one.points) {
      const left = x(p.t);
      const width = Math.max(1, x(p.t2) - left - 0.5);
      group.append(s("rect", { x: f(left), y: f(y(p.v)), width: f(width), height: f(Math.max(0, y(0) - y(p.v))) }));
    }
  } else if (one.kind === "dots") {
    for (const p of one.points) {
      group.append(s("circle", { cx: f(x(p.t)), cy: f(y(p.v)), r: 5, class: `dot level-${p.level || "none"}`,
        "data-level": p.level || "" }, p.title ? s("title", {}, p.title) : null));
    }
  } else if (one.kind === "step") {
    const d = runs(one.points, one.breakMs).map((run) => run.map((p, i) => {
      const level = f(y(p.v));
      return `${i ? "L" : "M"}${f(x(p.t))},${level}L${f(x(p.t2))},${level}`;
    }).join("")).join("");
    group.append(s("path", { d, class: "step" }));
  }
  return group;
}

/** Draws a chart. opts: label, width, height, start, end, timeZone, series [{name, kind, points,
 * breakMs, className}], gaps [{start, end, kind}], yDomain, yTicks [{value, label}], description.
 * Returns { svg, x, invert, plot }: the time scale, its inverse (pixels → ms) and the plot area. */
export function timeChart(opts) {
  const { width, height = 200, start, end, timeZone = "UTC" } = opts;
  const plot = { left: MARGIN.left, top: MARGIN.top, width: Math.max(50, width - MARGIN.left - MARGIN.right),
    height: Math.max(40, height - MARGIN.top - MARGIN.bottom) };
  const span = Math.max(1, end - start);
  const x = (ms) => plot.left + ((ms - start) / span) * plot.width;
  const invert = (px) => start + ((px - plot.left) / plot.width) * span;
  const [lo, hi] = opts.yDomain || extent(opts.series);
  const y = (v) => plot.top + plot.height - ((v - lo) / (hi - lo || 1)) * plot.height;
  const drawn = opts.series.filter((one) => one.points.length);
  const titleId = `t${Math.random().toString(36).slice(2)}`;
  const svg = s("svg", {
    class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-labelledby": `${titleId} ${titleId}d`, "data-series": drawn.length, "data-start": start, "data-end": end,
  }, s("title", { id: titleId }, opts.label), s("desc", { id: `${titleId}d` }, opts.description || ""));
  const clipId = `${titleId}c`;
  svg.append(s("defs", {}, s("clipPath", { id: clipId },
    s("rect", { x: plot.left, y: plot.top, width: plot.width, height: plot.height }))));

  const grid = s("g", { class: "grid", "aria-hidden": "true" });
  const yTicks = opts.yTicks || niceTicks(lo, hi, Math.max(2, Math.floor(plot.height / 45))).map((v) => ({ value: v }));
  for (const tick of yTicks) {
    if (tick.value < lo || tick.value > hi) continue;
    const ty = f(y(tick.value));
    grid.append(s("line", { x1: plot.left, x2: plot.left + plot.width, y1: ty, y2: ty }));
    grid.append(s("text", { x: plot.left - 6, y: ty, class: "y-label", "dominant-baseline": "middle",
      "text-anchor": "end" }, tick.label ?? tick.value));
  }
  const { ticks, step } = timeTicks(start, end, plot.width, timeZone);
  let previous = null;
  for (const tick of ticks) {
    const tx = f(x(tick));
    grid.append(s("line", { x1: tx, x2: tx, y1: plot.top, y2: plot.top + plot.height }));
    const edge = x(tick) > plot.left + plot.width - 30 ? "end" : x(tick) < plot.left + 30 ? "start" : "middle";
    grid.append(s("text", { x: tx, y: plot.top + plot.height + 16, class: "x-label", "text-anchor": edge },
      tickLabel(tick, step, timeZone, previous)));
    previous = tick;
  }
  svg.append(grid);

  const shaded = s("g", { class: "gaps", "clip-path": `url(#${clipId})`, "data-gaps": (opts.gaps || []).length });
  for (const gap of opts.gaps || []) {
    const left = Math.max(x(gap.start), plot.left - 1);
    const right = Math.min(x(gap.end ?? end), plot.left + plot.width + 1);
    if (right <= left) continue;
    shaded.append(s("rect", { x: f(left), y: plot.top, width: f(Math.max(1, right - left)), height: plot.height,
      class: `gap gap-${gap.kind}` }, s("title", {}, gap.title || gap.kind)));
  }
  svg.append(shaded);

  const body = s("g", { class: "series-all", "clip-path": `url(#${clipId})` });
  for (const one of opts.series) body.append(drawSeries(one, x, y));
  svg.append(body);
  svg.append(s("rect", { class: "frame", x: plot.left, y: plot.top, width: plot.width, height: plot.height }));
  return { svg, x, y, invert, plot };
}
