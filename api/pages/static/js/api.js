// The REST client: adds the key, turns every failure into an ApiError whose `kind` the pages show.

import { expire, token } from "./session.js";

/** kind: auth (401: no, expired or revoked key), forbidden (403), not_found, rate_limited, invalid (400),
 * server (5xx), down (the API cannot be reached). */
export class ApiError extends Error {
  constructor(kind, message, status = 0) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

const KINDS = { 400: "invalid", 401: "auth", 403: "forbidden", 404: "not_found", 429: "rate_limited" };
let onAuthFailure = () => {};

/** Called (once per failing request) when the API refuses the key; the app sends the user to sign in. */
export function setAuthFailureHandler(handler) {
  onAuthFailure = handler;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function detailOf(response) {
  try {
    const body = await response.json();
    return body.detail || response.statusText;
  } catch {
    return response.statusText || `HTTP ${response.status}`;
  }
}

/** `GET`/`POST` a JSON endpoint; `signal` aborts it (an aborted request rejects with an AbortError). */
export async function request(path, { params, method = "GET", body, signal, key } = {}) {
  const headers = { Accept: "application/json" };
  const bearer = key || token();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path + query(params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("down", "The API cannot be reached. Is it running? Retrying may help.");
  }
  if (response.ok) return response.json();
  const detail = await detailOf(response);
  const kind = KINDS[response.status] || (response.status >= 500 ? "server" : "invalid");
  if (kind === "auth" && !key) {
    expire("The API no longer accepts this key: it may have expired or been revoked. Sign in again.");
    onAuthFailure();
  }
  if (kind === "rate_limited") {
    const wait = response.headers.get("Retry-After");
    throw new ApiError(kind, `Too many requests: ${detail}. Retry in ${wait || "a few"} s.`, response.status);
  }
  if (kind === "server") throw new ApiError(kind, `The API failed (HTTP ${response.status}): ${detail}`, response.status);
  throw new ApiError(kind, detail, response.status);
}

export const get = (path, params, options = {}) => request(path, { ...options, params });
export const post = (path, body, options = {}) => request(path, { ...options, method: "POST", body });

/** A human sentence for any error a page caught. */
export function describe(error) {
  if (error instanceof ApiError) return error.message;
  return `Something went wrong in the page: ${error && error.message ? error.message : error}`;
}
