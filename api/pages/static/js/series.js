// What each chart of the participant page asks the API for, and how the answer becomes chart series.
// Every loader answers { series, note, readout(ms), yDomain?, yTicks? } for a range and a plot width.

import { get } from "./api.js";
import { duration, isoUtc, number } from "./dom.js";

const MINUTE = 60_000;
const BAR_ROWS_MAX = 12_000;
const STAGES = ["Wake", "Light", "Deep", "REM"];
const STAGE_LEVEL = [3, 1, 0, 2]; // wake on top, then REM, light, deep
const HYPNOGRAM_RAW_MAX_MS = 3 * 86_400_000;

function seriesPath(participantId, metric) {
  return `/v1/participants/${encodeURIComponent(participantId)}/series/${metric}`;
}

async function page(participantId, metric, start, end, signal, params) {
  return get(seriesPath(participantId, metric), { start: isoUtc(start), end: isoUtc(end), ...params }, { signal });
}

const time = (point) => Date.parse(point.time);

/** The point nearest `ms` within `tolerance`, by binary search over points sorted by `t`. */
export function nearest(points, ms, tolerance) {
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].t < ms) lo = mid + 1;
    else hi = mid;
  }
  const candidates = [points[lo - 1], points[lo]].filter(Boolean);
  const best = candidates.sort((a, b) => Math.abs(a.t - ms) - Math.abs(b.t - ms))[0];
  return best && Math.abs(best.t - ms) <= tolerance ? best : null;
}

function resolutionNote(response) {
  if (response.resolution === "raw") return "raw readings";
  return `${duration(response.bucket_seconds)} buckets`;
}

/** A min/max band and the mean line of rollups; a line of readings when the zoom reaches raw data. */
export async function loadBand(participantId, metric, unit, start, end, width, signal) {
  const response = await page(participantId, metric, start, end, signal, {
    resolution: "auto", max_points: Math.max(10, Math.min(2000, Math.round(width))),
  });
  const raw = response.resolution === "raw";
  const bucketMs = raw ? 0 : response.bucket_seconds * 1000;
  const breakMs = raw ? 5 * MINUTE : Math.max(2.5 * bucketMs, 2 * MINUTE);
  const points = response.points.map((p) => (raw
    ? { t: time(p), v: p.value }
    : { t: time(p) + bucketMs / 2, lo: p.min, hi: p.max, v: p.mean, n: p.count }));
  const series = raw
    ? [{ name: "readings", kind: "line", points, breakMs }]
    : [{ name: "band", kind: "band", points, breakMs }, { name: "mean", kind: "line", points, breakMs }];
  const readout = (ms) => {
    const p = nearest(points, ms, Math.max(bucketMs, 2 * MINUTE));
    if (!p) return null;
    return raw ? `${number(p.v, 0, unit)}`
      : `mean ${number(p.v, 1)} · min ${number(p.lo, 0)} · max ${number(p.hi, 0)} ${unit} (${p.n} readings)`;
  };
  return { series, note: resolutionNote(response), readout, count: points.length };
}

function chooseBarLevel(start, end) {
  for (const [level, width] of [["1m", MINUTE], ["1h", 60 * MINUTE], ["1d", 1440 * MINUTE]]) {
    if ((end - start) / width <= BAR_ROWS_MAX) return [level, width];
  }
  return ["1d", 1440 * MINUTE];
}

/** Totals per bar (steps): stored rollup sums, merged into bars at least 3 px wide. */
export async function loadBars(participantId, metric, unit, start, end, width, signal) {
  const [level, levelMs] = chooseBarLevel(start, end);
  const response = await page(participantId, metric, start, end, signal, { resolution: level, max_points: BAR_ROWS_MAX });
  const bars = Math.max(10, Math.floor(width / 3));
  const binMs = Math.max(levelMs, Math.ceil((end - start) / bars / levelMs) * levelMs);
  const bins = new Map();
  for (const p of response.points) {
    const t = start + Math.floor((time(p) - start) / binMs) * binMs;
    bins.set(t, (bins.get(t) || 0) + (p.sum ?? p.mean * p.count));
  }
  const points = [...bins].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ t, t2: t + binMs, v }));
  const readout = (ms) => {
    const p = points.find((q) => q.t <= ms && ms < q.t2);
    return p ? `${number(p.v, 0, unit)} in ${duration(binMs / 1000)}` : null;
  };
  const top = Math.max(10, ...points.map((p) => p.v));
  return {
    series: [{ name: "totals", kind: "bars", points }], note: `totals per ${duration(binMs / 1000)}`, readout,
    yDomain: [0, top * 1.08], count: points.length,
  };
}

function mergeEpochs(epochs) {
  const merged = [];
  for (const e of epochs) {
    const last = merged.at(-1);
    if (last && last.stage === e.stage && last.t2 === e.t) last.t2 = e.t2;
    else merged.push({ ...e });
  }
  return merged.map((e) => ({ t: e.t, t2: e.t2, v: STAGE_LEVEL[e.stage], stage: e.stage }));
}

/** A hypnogram: 30 s epochs when the range is short, else the dominant stage of each rollup bucket. */
export async function loadHypnogram(participantId, metric, unit, start, end, width, signal) {
  const raw = end - start <= HYPNOGRAM_RAW_MAX_MS;
  const response = await page(participantId, metric, start, end, signal, raw
    ? { resolution: "raw", max_points: 10_000 }
    : { resolution: "auto", max_points: Math.max(10, Math.min(2000, Math.round(width / 2))) });
  const bucketMs = response.resolution === "raw" ? 30_000 : response.bucket_seconds * 1000;
  const epochs = response.points.map((p) => {
    const counts = p.stage_epochs || [];
    const stage = p.value ?? counts.indexOf(Math.max(...counts));
    return { t: time(p), t2: time(p) + bucketMs, stage };
  }).filter((e) => e.stage >= 0 && e.stage <= 3);
  const points = mergeEpochs(epochs);
  const readout = (ms) => {
    const p = points.find((q) => q.t <= ms && ms < q.t2);
    return p ? `${STAGES[p.stage]} for ${duration((p.t2 - p.t) / 1000)}` : null;
  };
  return {
    series: [{ name: "stages", kind: "step", points, breakMs: 10 * MINUTE }],
    note: response.resolution === "raw" ? "30 s epochs" : `dominant stage per ${duration(bucketMs / 1000)}`,
    readout, count: points.length, yDomain: [-0.5, 3.5],
    yTicks: STAGES.map((label, stage) => ({ value: STAGE_LEVEL[stage], label })),
  };
}

/** Gaps overlapping the range (open ones end at the range's end), for shading every chart. */
export async function loadGaps(participantId, start, end, signal) {
  const response = await get(`/v1/participants/${encodeURIComponent(participantId)}/gaps`,
    { start: isoUtc(start), end: isoUtc(end), status: "all", limit: 1000 }, { signal });
  return response.items.map((g) => ({
    start: Date.parse(g.start), end: g.end ? Date.parse(g.end) : null, kind: g.kind,
    title: `${g.kind === "not_worn" ? "Not worn" : "Not synced"} for ${duration(g.duration_s)}${g.open ? " (open)" : ""}`,
  }));
}

/** Stretches of imputed heart-rate minutes in the range (`imputed=only`, the latest complete imputation run),
 * from `auto` bins that hold imputed minutes, adjacent bins joined, for shading every chart. */
export async function loadImputed(participantId, start, end, signal) {
  const response = await page(participantId, "heart_rate", start, end, signal, {
    resolution: "auto", max_points: 2000, imputed: "only",
  });
  const bucketMs = response.bucket_seconds * 1000;
  const stretches = [];
  for (const p of response.points) {
    const t = time(p);
    const last = stretches.at(-1);
    if (last && last.end === t) {
      last.end = t + bucketMs;
      last.minutes += p.imputed_minutes;
    } else stretches.push({ start: t, end: t + bucketMs, minutes: p.imputed_minutes });
  }
  const run = response.imputation_run;
  return stretches.map((g) => ({
    start: g.start, end: g.end, kind: "imputed",
    title: `Imputed (run ${run}): ${g.minutes} heart-rate minutes`,
  }));
}
