// The API's websockets (authenticated by the `wearstream_token` cookie), reconnecting with backoff; a refused
// key ends the session. Live heart rate: a backfill of the last minutes on connect, then each applied
// upload's 1-minute rollups and thinned readings.

import { timeChart } from "./chart.js";
import { formatTime, number } from "./dom.js";
import { nearest } from "./series.js";
import { expire } from "./session.js";

export const LIVE_WINDOW_MS = 30 * 60_000;
const BACKFILL_MINUTES = 30;
const FINAL_CODES = { 4400: "bad request", 4403: "not allowed for this key", 4404: "unknown participant" };

/** Opens a websocket of the API (`path` with its query); `onMessage(message)` gets every JSON message,
 * `onState(state, detail)` connecting | open | reconnecting | closed | expired. Returns a function that
 * closes it for good. */
export function openFeed(path, { onMessage, onState }) {
  let socket = null;
  let stopped = false;
  let attempt = 0;
  let timer = 0;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;

  const connect = () => {
    onState(attempt ? "reconnecting" : "connecting");
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      attempt = 0;
      onState("open");
    });
    socket.addEventListener("message", (event) => {
      try {
        onMessage(JSON.parse(event.data));
      } catch (error) {
        console.error("live: unreadable message", error);
      }
    });
    socket.addEventListener("close", (event) => {
      if (stopped) return;
      if (event.code === 4401) {
        expire("The live feed refused the key: it may have expired or been revoked. Sign in again.");
        onState("expired");
        return;
      }
      if (event.code in FINAL_CODES) {
        onState("closed", `${FINAL_CODES[event.code]}: ${event.reason}`);
        return;
      }
      attempt += 1;
      const wait = Math.min(15_000, 1000 * 2 ** (attempt - 1));
      onState("reconnecting", `connection lost; retrying in ${Math.round(wait / 1000)} s`);
      timer = setTimeout(connect, wait);
    });
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (socket) socket.close(1000, "page left");
  };
}

/** One participant's live feed of one metric, with a backfill of the last minutes. */
export function openLive(participantId, metric, handlers) {
  const query = `participants=${encodeURIComponent(participantId)}&metrics=${metric}&backfill_minutes=${BACKFILL_MINUTES}`;
  return openFeed(`/v1/live?${query}`, handlers);
}

/** Live heart-rate data for one chart: minutes by time (replaced when re-sent) and the recent readings. */
export class LiveSeries {
  constructor() {
    this.minutes = new Map();
    this.readings = [];
    this.updates = 0;
    this.latest = 0;
    this.lastReading = 0;
  }

  /** Takes a backfill or live message; returns whether it changed anything. `lastReading` is the newest
   * reading's time (a backfill's newest minute until readings arrive); `latest` where the window ends. */
  add(message) {
    if (message.type !== "backfill" && message.type !== "live") return false;
    for (const m of message.minutes) {
      this.minutes.set(m.time_ms, m);
      this.latest = Math.max(this.latest, m.time_ms + 60_000);
      if (!message.timestamps_ms) this.lastReading = Math.max(this.lastReading, m.time_ms);
    }
    const times = message.timestamps_ms || [];
    for (let i = 0; i < times.length; i += 1) {
      this.readings.push({ t: times[i], v: message.values[i] });
      this.latest = Math.max(this.latest, times[i] + 1000);
      this.lastReading = Math.max(this.lastReading, times[i]);
    }
    if (message.type === "live") this.updates += 1;
    this.trim();
    return true;
  }

  trim() {
    const from = this.latest - 2 * LIVE_WINDOW_MS;
    for (const t of this.minutes.keys()) if (t < from) this.minutes.delete(t);
    this.readings.sort((a, b) => a.t - b.t);
    const first = this.readings.findIndex((p) => p.t >= from);
    if (first > 0) this.readings.splice(0, first);
  }

  /** Draws the last 30 minutes ending at the newest data; returns the chart (with its svg). */
  draw(width, height, timeZone) {
    const end = this.latest || Date.now();
    const start = end - LIVE_WINDOW_MS;
    const minutes = [...this.minutes.values()].sort((a, b) => a.time_ms - b.time_ms)
      .map((m) => ({ t: m.time_ms + 30_000, lo: m.min, hi: m.max, v: m.mean }));
    const readings = this.readings.filter((p) => p.t >= start);
    const chart = timeChart({
      label: "Live heart rate", width, height, start, end, timeZone,
      description: `Live heart rate, last 30 minutes up to ${formatTime(end, timeZone, "time")}: `
        + `${minutes.length} minutes and ${readings.length} readings.`,
      series: [
        { name: "band", kind: "band", points: minutes, breakMs: 150_000 },
        { name: "mean", kind: "line", points: minutes, breakMs: 150_000 },
        { name: "readings", kind: "line", points: readings, breakMs: 120_000, className: "live-readings" },
      ],
    });
    chart.svg.dataset.lastReadingMs = String(this.lastReading);
    chart.svg.dataset.updates = String(this.updates);
    return chart;
  }

  readout(ms, timeZone) {
    const reading = nearest(this.readings, ms, 5_000);
    if (reading) return `${number(reading.v, 0, "bpm")} at ${formatTime(reading.t, timeZone, "time")}`;
    const minute = this.minutes.get(Math.floor(ms / 60_000) * 60_000);
    return minute ? `minute mean ${number(minute.mean, 1)} · min ${minute.min} · max ${minute.max} bpm` : null;
  }
}
