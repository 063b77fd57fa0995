// api.js — the page's one way to the API: every call carries the signed-in user's token
// (kept in sessionStorage: gone with the tab, never in a URL or a cookie), and every refusal
// becomes an ApiError holding the API's own words (its `error` field).

const KEY = "distcron.token";

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Called with every 401: the token stopped working (set by the app). */
let onUnauthorized = () => {};
export function whenUnauthorized(f) {
  onUnauthorized = f;
}

async function refusal(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // HAProxy's HTML 408, or a body cut off: said below in words all the same.
  }
  const message = body?.error || `${res.status} ${res.statusText || "error"} from the API`;
  return new ApiError(res.status, body?.code || "http", message);
}

/** One API call: `{data, headers, status}`, or throws an ApiError. */
export async function call(method, path, { body, headers = {}, signal } = {}) {
  // Signed out: nothing is sent (a request without a token is a 401, which HAProxy counts
  // against this address).
  if (!token()) throw new ApiError(401, "unauthorized", "You are signed out.");
  const h = { Authorization: `Bearer ${token()}`, Accept: "application/json", ...headers };
  if (body !== undefined) h["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method, headers: h, signal, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "network", `The API could not be reached (${e.message}).`);
  }
  if (!res.ok) {
    const err = await refusal(res);
    if (res.status === 401) onUnauthorized(err);
    throw err;
  }
  const text = await res.text();
  return { data: text ? JSON.parse(text) : null, headers: res.headers, status: res.status };
}

export const get = (path, opts) => call("GET", path, opts).then((r) => r.data);
export const post = (path, body = {}, opts = {}) => call("POST", path, { ...opts, body }).then((r) => r.data);

/** The next page's path from a `Link: <path>; rel="next"` header, or null. */
export function nextLink(headers) {
  const link = headers.get("Link");
  const m = link && /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return m ? m[1] : null;
}

/** A query string of the set values of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/**
 * Follows a run's output: `GET /runs/{id}/log?follow=true` read as a stream (EventSource cannot
 * send the Authorization header) and parsed as Server-Sent Events. Calls onOutput(chunk) for
 * each `output` event, onEnd(run) once at the `end` event; reconnects with Last-Event-ID after
 * an `error` event or a cut stream, saying so through onState(text). Stops with `signal`.
 */
export async function follow(runId, { onOutput, onEnd, onState, signal }) {
  let lastId = null;
  let delay = 500;
  while (!signal.aborted) {
    try {
      const headers = { Authorization: `Bearer ${token()}`, Accept: "text/event-stream" };
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      if (!token()) return;
      const res = await fetch(`/runs/${encodeURIComponent(runId)}/log?follow=true`, { headers, signal, cache: "no-store" });
      // A resume after the last chunk of a run that has ended: nothing more will come.
      if (res.status === 204) return onEnd(await get(`/runs/${encodeURIComponent(runId)}`, { signal }));
      if (!res.ok) {
        const err = await refusal(res);
        if (res.status === 401) onUnauthorized(err);
        // HAProxy's 502 and 504, and a 503: try again; anything else is said and ends it.
        if (![502, 503, 504].includes(res.status)) throw err;
        onState(`${err.message} Trying again…`);
      } else {
        onState("live");
        for await (const ev of events(res.body, signal)) {
          if (ev.id !== undefined) lastId = ev.id;
          const data = ev.data ? JSON.parse(ev.data) : null;
          if (ev.event === "output") onOutput(data);
          else if (ev.event === "end") return onEnd(data);
          else if (ev.event === "error") onState(`${data?.error || "the stream failed"}; reconnecting…`);
        }
        delay = 500;
      }
    } catch (e) {
      if (signal.aborted || e.name === "AbortError") return;
      if (e instanceof ApiError && ![0, 502, 503, 504].includes(e.status)) throw e;
      onState(`${e.message} Reconnecting…`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 5000);
  }
}

/** The events of an SSE body: {event, data, id}, as the EventSource spec parses them. */
async function* events(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  signal.addEventListener("abort", () => reader.cancel().catch(() => {}), { once: true });
  let buf = "";
  let ev = { event: "message", data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (ev.data.length || ev.id !== undefined) yield { ...ev, data: ev.data.join("\n") };
        ev = { event: "message", data: [] };
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (name === "event") ev.event = value;
      else if (name === "data") ev.data.push(value);
      else if (name === "id") ev.id = value;
    }
  }
}
