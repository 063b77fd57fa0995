// jobs.js — the jobs table (#/jobs): filtered by status (and owner, for admins) on the API's
// side and by text on this page of it, paginated with the API's `Link` cursor.

import { call, get, nextLink, query } from "./api.js";
import { describe } from "./cron.js";
import { badge, errorBox, fill, h, table, when } from "./dom.js";

const STATUSES = ["", "scheduled", "error", "paused", "finished"];

export async function jobsPage(ctx) {
  const status = h("select", { id: "status-filter" },
    STATUSES.map((s) => h("option", { value: s }, s || "any")));
  const text = h("input", { type: "search", id: "text-filter", placeholder: "name, command, owner, id" });
  const owner = ctx.me.admin ? h("input", { type: "text", id: "owner-filter", size: 10, placeholder: "anyone" }) : null;
  const limit = 50;
  const first = () => `/jobs${query({ status: status.value, owner: owner?.value.trim(), limit })}`;
  const pages = [first()];
  const list = h("div", { id: "jobs-list" });
  const pager = h("div", { class: "pager" });
  let jobs = [];

  const render = () => {
    const t = text.value.trim().toLowerCase();
    const shown = jobs.filter((j) => !t || [j.name, j.executable, j.owner, j.id, j.schedule]
      .some((v) => v && v.toLowerCase().includes(t)));
    const headers = ["Name", ...(ctx.me.admin ? ["Owner"] : []), "Type", "Schedule", "Time zone", "Status", "Last outcome", "Next run"];
    fill(list, table(headers, shown.map((j) => [
      h("a", { href: `#/jobs/${j.id}`, class: "job-link" }, j.name || j.id.slice(0, 13) + "…"),
      ...(ctx.me.admin ? [j.owner] : []),
      j.type,
      h("span", {}, h("code", {}, j.schedule), h("div", { class: "hint" }, describe(j.schedule) || "")),
      j.timezone,
      badge(j.status),
      lastOutcome(j, ctx.signal),
      when(j.next_run_at, j.timezone),
    ]), jobs.length ? "No job on this page matches." : "No jobs yet. Create one with “New job”."));
  };

  const load = async () => {
    const res = await call("GET", pages[pages.length - 1], { signal: ctx.signal });
    jobs = res.data;
    const next = nextLink(res.headers);
    fill(pager,
      h("button", { type: "button", disabled: pages.length < 2, onclick: () => { pages.pop(); reload(); } }, "← Previous"),
      h("span", { class: "muted" }, `Page ${pages.length}`),
      h("button", { type: "button", disabled: !next, onclick: () => { pages.push(next); reload(); } }, "Next →"));
    render();
  };
  const reload = () => load().catch((e) => e.name !== "AbortError" && fill(list, errorBox(e)));

  const restart = () => {
    pages.splice(0, pages.length, first());
    reload();
  };
  status.addEventListener("change", restart);
  owner?.addEventListener("change", restart);
  text.addEventListener("input", render);

  fill(ctx.main,
    h("div", { class: "title" }, h("h1", {}, "Jobs"), h("a", { class: "button primary", href: "#/jobs/new" }, "New job")),
    h("div", { class: "filters" },
      h("label", { for: "status-filter" }, "Status"), status,
      owner ? [h("label", { for: "owner-filter" }, "Owner"), owner] : null,
      h("label", { for: "text-filter" }, "Text"), text),
    list, pager);
  await load().catch((e) => fill(list, errorBox(e)));
}

const UNDER_WAY = ["pending", "claimed", "running"];

/** How the job's latest ended run ended (else the newest run's state), looked up after the
 *  table is drawn. Ticks are claimed ahead of time, so the newest run is often not ended. */
function lastOutcome(job, signal) {
  const cell = h("span", {}, "…");
  get(`/jobs/${job.id}/runs?limit=5`, { signal })
    .then((runs) => {
      const r = runs.find((x) => !UNDER_WAY.includes(x.status)) || runs[0];
      fill(cell, r ? h("a", { href: `#/runs/${r.id}`, title: r.reason || "" }, badge(r.status))
        : h("span", { class: "muted" }, "no run yet"));
    })
    .catch((e) => e.name !== "AbortError" && fill(cell, h("span", { class: "muted", title: e.message }, "?")));
  return cell;
}
