// dom.js — building the page's elements without HTML strings (so nothing the API answers is
// ever parsed as markup), and the formats shared by every view.

/** An element: h("a", {href: "#/jobs", class: "x", onclick: f}, "text", child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "value") el.value = v;
    else if (k === "checked" || k === "disabled" || k === "selected") el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces everything in `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A status as a coloured badge: its class names the state, its text says it. */
export function badge(status) {
  if (!status) return h("span", { class: "muted" }, "—");
  return h("span", { class: `badge st-${status}` }, status.replace("_", " "));
}

const formats = new Map();

/** `iso` on the wall clock of `timeZone` (the browser's own by default), e.g.
 *  "2026-12-06 21:05:00 CET". */
export function time(iso, timeZone) {
  if (!iso) return "—";
  const key = timeZone || "";
  if (!formats.has(key)) {
    try {
      formats.set(key, new Intl.DateTimeFormat("sv-SE", {
        timeZone: timeZone || undefined, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
      }));
    } catch {
      formats.set(key, new Intl.DateTimeFormat("sv-SE", { dateStyle: "short", timeStyle: "long" }));
    }
  }
  return formats.get(key).format(new Date(iso));
}

/** How long ago (or how far ahead) `iso` is, in words: "12 s ago", "in 3 min". */
export function ago(iso) {
  if (!iso) return "";
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const a = Math.abs(s);
  const v = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min`
    : a < 86400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`;
  return s < 0 ? `${v} ago` : `in ${v}`;
}

/** A time element: the time, with how long ago in its title. */
export function when(iso, timeZone) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: ago(iso) }, time(iso, timeZone));
}

/** A duration between two instants, in words. */
export function duration(from, to) {
  if (!from) return "—";
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** An error, in words, where the page would have been: role=alert, so it is announced. */
export function errorBox(err) {
  return h("div", { class: "error", role: "alert" }, err?.message || String(err));
}

/** A description list from [label, value] pairs (values null or undefined are left out). */
export function dl(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** A table with a header row; rows are arrays of cells (strings or nodes). */
export function table(headers, rows, empty = "Nothing to show.") {
  if (!rows.length) return h("p", { class: "muted empty" }, empty);
  return h("div", { class: "scroll" }, h("table", {},
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
}

/** A labelled form field: label, control, optional hint and an error slot. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const err = h("div", { class: "field-error", id: `${id}-error`, role: "status" });
  const hintEl = hint ? h("div", { class: "hint", id: `${id}-hint` }, hint) : null;
  control.setAttribute("aria-describedby", [hintEl && hintEl.id, err.id].filter(Boolean).join(" "));
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl, err);
}
