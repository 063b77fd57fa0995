// workers.js — the live workers (#/workers): jobs, runs, heartbeat and launch gate, drain and
// undrain for admins; and the runs under way.

import { get, post } from "./api.js";
import { badge, errorBox, fill, h, table, when } from "./dom.js";

export async function workersPage(ctx) {
  const notice = h("div", { id: "workers-notice", "aria-live": "polite" });
  const workers = h("div", { id: "workers" });
  const runs = h("div", { id: "runs-under-way" });
  const act = (what, path) => async () => {
    fill(notice);
    try {
      await post(path);
      await load();
    } catch (e) {
      if (e.name !== "AbortError") fill(notice, errorBox(new Error(`${what}: ${e.message}`)));
    }
  };
  const load = async () => {
    const [ws, rs] = await Promise.all([
      get("/workers", { signal: ctx.signal }),
      get("/runs?limit=100", { signal: ctx.signal }),
    ]);
    fill(workers, table(["Worker", "Host", "Jobs", "Running", "Heartbeat", "Gate", "Started", ...(ctx.me.admin ? [""] : [])],
      ws.map((w) => [
        h("span", {}, h("strong", {}, w.id), w.drained ? [" ", badge("drained")] : null), w.host || "—", String(w.jobs), String(w.running),
        w.reachable === false ? h("span", { class: "bad" }, `unreachable: ${w.error || "no answer"}`) : when(w.last_heartbeat_at),
        w.gate ? (w.gate.open ? h("span", { class: "good" }, "open") : h("span", { class: "bad" }, `closed: ${w.gate.reason || "?"}`)) : "—",
        when(w.started_at),
        ...(ctx.me.admin ? [w.drained
          ? h("button", { type: "button", onclick: act("Undrain", `/workers/${encodeURIComponent(w.id)}/undrain`) }, "Undrain")
          : h("button", { type: "button", onclick: act("Drain", `/workers/${encodeURIComponent(w.id)}/drain`) }, "Drain")] : []),
      ]),
      "No live worker."));
    fill(runs, table(["Run", "Job", "Status", "Worker", "Started"], rs.map((r) => [
      h("a", { href: `#/runs/${r.id}` }, r.id.slice(-12)), h("a", { href: `#/jobs/${r.job_id}` }, r.job_id.slice(-12)),
      badge(r.status), r.worker || "—", when(r.started_at),
    ]), "No run under way."));
  };
  fill(ctx.main, h("h1", {}, "Workers"), notice, h("section", { class: "card" }, workers),
    h("section", { class: "card" }, h("h2", {}, ctx.me.admin ? "Runs under way (the cluster's)" : "Your runs under way"), runs));
  await load().catch((e) => fill(workers, errorBox(e)));
  ctx.every(3000, load);
}
