// job.js — one job (#/jobs/<id>): its definition, the tick grid (one cell per scheduled time,
// coloured by what became of it: GET /jobs/{id}/ticks), its runs, and its buttons.

import { call, get, nextLink, post, query } from "./api.js";
import { describe } from "./cron.js";
import { badge, dl, duration, errorBox, fill, h, table, time, when } from "./dom.js";

const UNDER_WAY = ["pending", "claimed", "running"];
const STATES = ["succeeded", "failed", "timed_out", "killed", "interrupted", "skipped", "paused",
  "running", "claimed", "pending", "upcoming", "unaccounted"];
const WINDOWS = [["1 hour", 3600], ["6 hours", 6 * 3600], ["24 hours", 86400], ["7 days", 7 * 86400]];

export async function jobPage(ctx, id) {
  const path = `/jobs/${encodeURIComponent(id)}`;
  let job = await get(path, { signal: ctx.signal });
  const head = h("div", { class: "title" });
  const notice = h("div", { id: "job-notice", "aria-live": "polite" });
  const facts = h("section", { class: "card" });
  const ticks = h("div", { id: "ticks" });
  const runs = h("div", { id: "runs" });
  const windowSelect = h("select", { id: "tick-window" },
    WINDOWS.map(([label, s]) => h("option", { value: s }, `last ${label}`)));

  const act = async (what, f) => {
    fill(notice);
    try {
      await f();
      job = await get(path, { signal: ctx.signal });
      draw();
      await refresh();
    } catch (e) {
      if (e.name !== "AbortError") fill(notice, errorBox(new Error(`${what}: ${e.message}`)));
    }
  };
  const confirmDelete = () => fill(notice, h("div", { class: "confirm", role: "alertdialog", "aria-label": "Delete the job?" },
    "Delete this job? It goes off the schedule for good (it stays readable, finished). ",
    h("button", { type: "button", class: "danger", id: "confirm-delete", onclick: () => act("Delete", () => call("DELETE", path)) }, "Delete"),
    h("button", { type: "button", onclick: () => fill(notice) }, "Cancel")));

  // The buttons are drawn again only when the status changes, so the keyboard's focus stays.
  let drawnStatus = null;
  const draw = () => {
    const active = job.status === "scheduled" || job.status === "error";
    if (drawnStatus !== job.status) drawHead(active);
    drawnStatus = job.status;
    drawFacts();
  };
  const drawHead = (active) => {
    const focused = document.activeElement?.id;
    fill(head, h("h1", {}, job.name || "Job ", h("span", { class: "muted small" }, job.name ? "" : job.id)), badge(job.status),
      h("div", { class: "actions" },
        active || job.status === "paused" ? h("button", { type: "button", id: "run-now", disabled: !active, onclick: () => act("Run now", async () => {
          const run = await post(`${path}/trigger`, {}, { headers: { "Idempotency-Key": crypto.randomUUID() } });
          location.hash = `#/runs/${run.id}`;
        }) }, "Run now") : null,
        active ? h("button", { type: "button", id: "pause", onclick: () => act("Pause", () => post(`${path}/pause`)) }, "Pause") : null,
        job.status === "paused" ? h("button", { type: "button", id: "resume", onclick: () => act("Resume", () => post(`${path}/resume`)) }, "Resume") : null,
        job.status !== "finished" ? h("a", { class: "button", id: "edit", href: `#/jobs/${job.id}/edit` }, "Edit") : null,
        h("button", { type: "button", id: "kill-all", onclick: () => act("Kill", () => post(`${path}/kill`)) }, "Kill runs under way"),
        job.status !== "finished" ? h("button", { type: "button", class: "danger", id: "delete", onclick: confirmDelete }, "Delete") : null));
    if (focused) document.getElementById(focused)?.focus();
  };
  const drawFacts = () => {
    fill(facts, h("h2", {}, "Definition"), dl([
      ["Id", h("code", {}, job.id)], ["Owner", job.owner], ["Type", job.type],
      [job.type === "command" ? "Command" : "Executable", h("code", { class: "wrap" }, job.executable)],
      ["sha256", job.sha256 && h("code", { class: "wrap" }, job.sha256)],
      ["Schedule", h("span", {}, h("code", {}, job.schedule), " ", h("span", { class: "muted" }, describe(job.schedule) || ""))],
      ["Time zone", job.timezone], ["Next run", when(job.next_run_at, job.timezone)],
      ["Timeout", job.timeout_seconds ? `${job.timeout_seconds} s` : "none"],
      ["Concurrency", job.concurrency], ["Misfire", job.misfire],
      ["Retries", `${job.retries} (backoff ${job.retry_backoff_seconds} s)${job.retry_interrupted ? ", interrupted runs retried once" : ""}`],
      ["Limits", [job.memory_mb && `${job.memory_mb} MiB`, job.cpu_millis && `${job.cpu_millis}/1000 CPU`,
        job.max_processes && `${job.max_processes} processes`].filter(Boolean).join(", ") || "the worker's defaults"],
      ["History kept", job.history_limit ? `${job.history_limit} runs` : "the cluster's default"],
      ["Privileged", job.privileged ? "yes (root)" : null], ["Run as", job.run_as],
      ["Version", String(job.version)], ["Created", when(job.created_at)], ["Updated", when(job.updated_at)],
      ["Paused at", job.paused_at && when(job.paused_at)], ["Resumed at", job.resumed_at && when(job.resumed_at)],
    ]));
  };

  const refresh = async () => {
    const span = Number(windowSelect.value) * 1000;
    const now = Date.now();
    // Ten minutes ahead too, so the upcoming ticks show.
    const to = new Date(now + Math.min(span / 6, 600000)).toISOString();
    const from = new Date(now - span).toISOString();
    await Promise.all([
      tickGrid(`${path}/ticks${query({ from, to, limit: 1000 })}`, job, ctx.signal).then((g) => fill(ticks, g), (e) => e.name !== "AbortError" && fill(ticks, errorBox(e))),
      runTable(`${path}/runs?limit=20`, job, ctx, () => act("Kill", async () => {})).then((t) => {
        // The same runs as last time: left as they are (and the focus with them).
        if (t.dataset.runs !== runs.firstChild?.dataset?.runs) fill(runs, t);
      }, (e) => e.name !== "AbortError" && fill(runs, errorBox(e))),
    ]);
  };
  windowSelect.addEventListener("change", refresh);

  draw();
  fill(ctx.main, head, notice,
    h("section", { class: "card", id: "ticks-card" }, h("div", { class: "title" }, h("h2", {}, "Ticks"),
      h("label", { for: "tick-window", class: "sr-only" }, "Window"), windowSelect), ticks, legend()),
    h("section", { class: "card" }, h("h2", {}, "Runs"), runs), facts);
  await refresh();
  ctx.every(5000, async () => {
    job = await get(path, { signal: ctx.signal });
    draw();
    await refresh();
  });
}

/** Every tick of the window (following `Link` for up to ten pages), one cell each. */
async function tickGrid(first, job, signal) {
  const cells = [];
  let next = first;
  for (let page = 0; next && page < 10; page++) {
    const res = await call("GET", next, { signal });
    for (const t of res.data.ticks) cells.push(t);
    next = nextLink(res.headers);
  }
  if (!cells.length) return h("p", { class: "muted empty" }, "No scheduled time in this window.");
  const grid = h("div", { class: "ticks", role: "list", "aria-label": "Scheduled times, oldest first" },
    cells.map((t) => {
      const title = `${time(t.scheduled_at, job.timezone)}: ${t.state.replace("_", " ")}`
        + (t.reason ? ` (${t.reason})` : "") + (t.attempts > 1 ? `, ${t.attempts} attempts` : "")
        + (t.caught_up ? ", caught up late" : "") + (t.worker ? `, on ${t.worker}` : "");
      const attrs = { class: `tick st-${t.state}`, title, "aria-label": title, role: "listitem", "data-state": t.state, "data-at": t.scheduled_at };
      return t.run_id ? h("a", { ...attrs, href: `#/runs/${t.run_id}` }) : h("span", attrs);
    }));
  return h("div", {}, grid, next ? h("p", { class: "hint" }, "More ticks than shown: pick a shorter window.") : null);
}

function legend() {
  return h("ul", { class: "legend", "aria-label": "Legend" },
    STATES.map((s) => h("li", {}, h("span", { class: `tick st-${s}` }), s.replace("_", " "))));
}

/** A job's runs, newest first, with a kill button on each under way; paginated. */
export async function runTable(path, job, ctx, changed) {
  const res = await call("GET", path, { signal: ctx.signal });
  const next = nextLink(res.headers);
  const box = h("div");
  const rows = res.data.map((r) => [
    h("a", { href: `#/runs/${r.id}`, class: "run-link" }, r.id.slice(-12)),
    when(r.scheduled_at, job.timezone), String(r.attempt),
    r.trigger === "manual" ? `manual (${r.triggered_by})` : r.trigger,
    h("span", { title: r.reason || "" }, badge(r.status), r.reason ? h("div", { class: "hint" }, r.reason) : null),
    r.worker || "—", duration(r.started_at, r.finished_at),
    r.exit_code !== null && r.exit_code !== undefined ? String(r.exit_code) : r.signal ? `signal ${r.signal}` : "—",
    UNDER_WAY.includes(r.status) ? h("button", { type: "button", class: "danger small", onclick: async (ev) => {
      ev.target.disabled = true;
      try { await post(`/runs/${r.id}/kill`); changed(); } catch (e) { fill(box, errorBox(e)); }
    } }, "Kill") : "",
  ]);
  return h("div", { "data-runs": JSON.stringify(res.data) }, box, table(["Run", "Scheduled", "Attempt", "Trigger", "Status", "Worker", "Took", "Exit", ""], rows, "No runs yet."),
    next ? h("p", {}, h("button", { type: "button", onclick: async (ev) => {
      ev.target.replaceWith(await runTable(next, job, ctx, changed));
    } }, "Older runs →")) : null);
}
