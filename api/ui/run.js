// run.js — one run (#/runs/<id>): its status, times, worker and exit, and its output, live
// while it runs (the SSE follow, resumed with Last-Event-ID), truncation marked.

import { follow, get, post } from "./api.js";
import { badge, dl, duration, errorBox, fill, h, when } from "./dom.js";

const UNDER_WAY = ["pending", "claimed", "running"];

export async function runPage(ctx, id) {
  const path = `/runs/${encodeURIComponent(id)}`;
  let run = await get(path, { signal: ctx.signal });
  const job = await get(`/jobs/${run.job_id}`, { signal: ctx.signal }).catch(() => null);
  const head = h("div", { class: "title" });
  const notice = h("div", { id: "run-notice", "aria-live": "polite" });
  const facts = h("section", { class: "card" });
  const out = h("pre", { class: "output", id: "output", tabindex: "0", "aria-label": "Output" });
  const state = h("span", { class: "muted", id: "follow-state" });
  const tz = job?.timezone;

  // The buttons are drawn again only when the status changes, so the keyboard's focus stays.
  let drawnStatus = null;
  const draw = () => {
    if (drawnStatus !== run.status) drawHead();
    drawnStatus = run.status;
    drawFacts();
  };
  const drawHead = () => {
    fill(head, h("h1", {}, "Run ", h("span", { class: "muted small" }, run.id)), h("span", { id: "run-status" }, badge(run.status)),
      h("div", { class: "actions" },
        UNDER_WAY.includes(run.status) ? h("button", { type: "button", class: "danger", id: "kill", onclick: kill }, "Kill") : null,
        h("a", { class: "button", href: `#/jobs/${run.job_id}` }, "Its job")));
  };
  const drawFacts = () => {
    fill(facts, h("h2", {}, "Details"), dl([
      ["Status", badge(run.status)], ["Reason", run.reason],
      ["Job", h("a", { href: `#/jobs/${run.job_id}` }, job?.name || run.job_id)],
      ["Scheduled at", when(run.scheduled_at, tz)], ["Attempt", String(run.attempt)],
      ["Trigger", run.trigger === "manual" ? `manual, by ${run.triggered_by}` : "the schedule"],
      ["Worker", run.worker || "—"], ["Started", when(run.started_at, tz)], ["Finished", when(run.finished_at, tz)],
      ["Took", run.started_at ? duration(run.started_at, run.finished_at) : "—"],
      ["Exit code", run.exit_code !== null && run.exit_code !== undefined ? String(run.exit_code) : null],
      ["Signal", run.signal ? String(run.signal) : null],
    ]));
  };
  const kill = async () => {
    fill(notice);
    try {
      await post(`${path}/kill`);
      fill(notice, h("p", { class: "ok" }, "Asked to stop; the worker is killing it."));
      run = await get(path, { signal: ctx.signal });
      draw();
    } catch (e) {
      if (e.name !== "AbortError") fill(notice, errorBox(e));
    }
  };

  draw();
  fill(ctx.main, head, notice, facts,
    h("section", { class: "card" }, h("div", { class: "title" }, h("h2", {}, "Output"), state), out));

  // While it runs, the row is read again now and then too (claimed → running, the worker).
  ctx.every(2000, async () => {
    if (!UNDER_WAY.includes(run.status)) return;
    run = await get(path, { signal: ctx.signal });
    draw();
  });
  const truncated = new Set();
  follow(run.id, {
    signal: ctx.signal,
    onOutput(chunk) {
      out.append(h("span", { class: chunk.stream }, chunk.text));
      if (chunk.truncated && !truncated.has(chunk.stream)) {
        truncated.add(chunk.stream);
        out.append(h("span", { class: "truncated" }, `\n[… ${chunk.stream} truncated: what it printed after this was dropped]\n`));
      }
      out.scrollTop = out.scrollHeight;
    },
    onEnd(ended) {
      run = ended;
      draw();
      state.textContent = "ended";
      if (!out.childNodes.length) out.append(h("span", { class: "muted" }, "(no output)"));
    },
    onState(text) {
      state.textContent = text;
    },
  }).catch((e) => fill(notice, errorBox(e)));
}
