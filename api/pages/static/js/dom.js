// Small DOM and formatting helpers shared by the pages.

const SVG_NS = "http://www.w3.org/2000/svg";

function assign(node, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An HTML element: `h("a", {href: "#/"}, "Cohort")`. */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  assign(node, attrs);
  return append(node, children);
}

/** An SVG element, same call shape as `h`. */
export function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  assign(node, attrs);
  return append(node, children);
}

/** Replaces the children of `node`. */
export function mount(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** A loading, error or empty state: never a blank page. `kind` is loading | error | empty. */
export function stateBox(kind, message, ...extra) {
  const role = kind === "error" ? "alert" : "status";
  return h("div", { class: `state state-${kind}`, role }, h("p", {}, message), ...extra);
}

const DURATION_UNITS = [
  [86_400, "d"],
  [3_600, "h"],
  [60, "min"],
  [1, "s"],
];

/** "3 h 20 min", "2 d", "45 s": the largest unit of a duration and, when not zero, the next one. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const total = Math.max(0, Math.round(seconds));
  const first = DURATION_UNITS.findIndex(([size]) => total >= size);
  if (first < 0) return "0 s";
  const [size, unit] = DURATION_UNITS[first];
  const parts = [`${Math.floor(total / size)} ${unit}`];
  const next = DURATION_UNITS[first + 1];
  if (next && Math.floor((total % size) / next[0])) parts.push(`${Math.floor((total % size) / next[0])} ${next[1]}`);
  return parts.join(" ");
}

/** "2 h ago" from hours (as the API gives them). */
export function ago(hours) {
  return hours === null || hours === undefined ? "never" : `${duration(hours * 3600)} ago`;
}

export function number(value, digits = 0, unit = "") {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const text = value.toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return unit ? `${text} ${unit}` : text;
}

const formats = new Map();

/** Formats epoch ms in a time zone; `style` picks the fields (time, minute, date, datetime, full). */
export function formatTime(ms, timeZone = "UTC", style = "datetime") {
  const key = `${timeZone}|${style}`;
  if (!formats.has(key)) {
    const fields = {
      time: { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" },
      minute: { hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
      date: { day: "numeric", month: "short" },
      datetime: { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
      full: { year: "numeric", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
    }[style];
    formats.set(key, new Intl.DateTimeFormat("en-GB", { ...fields, timeZone }));
  }
  return formats.get(key).format(new Date(ms));
}

/** The zone's offset from UTC at `ms`, in ms (positive east of Greenwich). */
export function zoneOffsetMs(ms, timeZone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]),
  );
  const local = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return local - Math.floor(ms / 1000) * 1000;
}

export function isoUtc(ms) {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

export const FLAG_LABELS = {
  not_authorised: "Not authorised",
  no_recent_upload: "No recent upload",
  low_wear: "Low wear",
  low_sleep_data: "Low sleep data",
};

export function flagBadge(flag) {
  return h("span", { class: `badge badge-flag flag-${flag}` }, FLAG_LABELS[flag] || flag);
}

/** Runs `fn` at most once per `wait` ms, with the latest arguments, after calls stop. */
export function debounce(fn, wait) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}
