// admin.js — admins' page (#/admin): users (create, with the token shown once; a new token;
// disable) and the audit log, filtered and paginated. Non-admins are told it is not theirs.

import { call, nextLink, post, query, setToken } from "./api.js";
import { errorBox, field, fill, h, table, when } from "./dom.js";

export async function adminPage(ctx) {
  if (!ctx.me.admin) {
    fill(ctx.main, h("h1", {}, "Admin"), errorBox(new Error("Only admins may manage users and read the audit log.")));
    return;
  }
  const log = await audit(ctx);
  fill(ctx.main, h("h1", {}, "Admin"), users(ctx, log.search), log.section);
}

/** A token to copy, shown this once. */
function shownOnce(answer) {
  const box = h("input", { type: "text", readonly: true, value: answer.token, id: "new-token", class: "token", "aria-label": `${answer.name}'s token` });
  return h("div", { class: "ok", role: "status" },
    h("p", {}, `${answer.name}${answer.admin ? " (admin)" : ""}: this token is shown once; copy it now.`), box,
    h("button", { type: "button", onclick: () => { box.select(); navigator.clipboard?.writeText(answer.token).catch(() => {}); } }, "Copy"));
}

/** The users' forms; `changed` is called after each change (the audit log has a new row). */
function users(ctx, changed) {
  const out = h("div", { id: "users-result", "aria-live": "polite" });
  const run = (f) => async (ev) => {
    ev.preventDefault();
    fill(out);
    try {
      await f();
      await changed();
    } catch (e) {
      if (e.name !== "AbortError") fill(out, errorBox(e));
    }
  };
  const name = h("input", { type: "text", id: "user-name", required: true, autocomplete: "off", pattern: "[a-z0-9][a-z0-9._-]{0,63}" });
  const admin = h("input", { type: "checkbox", id: "user-admin" });
  const create = h("form", { class: "inline", id: "create-user" },
    field("New user's name", name), h("div", { class: "field check" }, admin, h("label", { for: "user-admin" }, "Admin")),
    h("button", { type: "submit", class: "primary" }, "Create user"));
  create.addEventListener("submit", run(async () => {
    fill(out, shownOnce(await post("/users", { name: name.value.trim(), admin: admin.checked })));
  }));

  const other = h("input", { type: "text", id: "other-user", required: true, autocomplete: "off" });
  // The user confirmed is the one disabled, whatever the field says by the time of the click.
  const confirmDisable = (who = other.value.trim()) => fill(out, h("div", { class: "confirm", role: "alertdialog", "aria-label": "Disable the user?" },
    `Disable ${who}? Its token stops working, its jobs go off the schedule, its runs are killed. `,
    h("button", { type: "button", class: "danger", id: "confirm-disable", onclick: run(async () => {
      const d = await call("DELETE", `/users/${encodeURIComponent(who)}`);
      fill(out, h("p", { class: "ok", role: "status" }, `${d.data.name} is disabled: ${d.data.jobs_finished.length} jobs finished, ${d.data.runs_stopped} runs stopped.`));
    }) }, "Disable"),
    h("button", { type: "button", onclick: () => fill(out) }, "Cancel")));
  const manage = h("form", { class: "inline", id: "manage-user" },
    field("User", other),
    h("button", { type: "submit", id: "rotate" }, "New token"),
    h("button", { type: "button", class: "danger", id: "disable", onclick: () => other.reportValidity() && confirmDisable() }, "Disable…"));
  manage.addEventListener("submit", run(async () => {
    const answer = await post(`/users/${encodeURIComponent(other.value.trim())}/token`);
    // One's own new token: the old one stopped working, so the page goes on with the new one.
    if (answer.name === ctx.me.name) setToken(answer.token);
    fill(out, shownOnce(answer));
  }));
  return h("section", { class: "card" }, h("h2", {}, "Users"), create, manage, out);
}

async function audit(ctx) {
  const f = {
    actor: h("input", { type: "text", id: "audit-actor" }),
    action: h("input", { type: "text", id: "audit-action", placeholder: "job.create" }),
    object_type: h("select", { id: "audit-type" }, ["", "job", "run", "user", "worker"].map((t) => h("option", { value: t }, t || "any"))),
    object_id: h("input", { type: "text", id: "audit-object" }),
  };
  const list = h("div", { id: "audit" });
  const pages = [];
  const load = async () => {
    try {
      const res = await call("GET", pages[pages.length - 1], { signal: ctx.signal });
      const next = nextLink(res.headers);
      fill(list, table(["At", "Actor", "Action", "Object", "Detail"], res.data.map((r) => [
        when(r.at), r.actor, h("code", {}, r.action),
        r.object_type === "job" ? h("a", { href: `#/jobs/${r.object_id}` }, `job ${r.object_id}`)
          : r.object_type === "run" ? h("a", { href: `#/runs/${r.object_id}` }, `run ${r.object_id}`) : `${r.object_type} ${r.object_id}`,
        r.detail ? h("code", { class: "wrap detail" }, JSON.stringify(r.detail)) : "",
      ]), "No audit row matches."),
      h("div", { class: "pager" },
        h("button", { type: "button", disabled: pages.length < 2, onclick: () => { pages.pop(); load(); } }, "← Newer"),
        h("button", { type: "button", disabled: !next, onclick: () => { pages.push(next); load(); } }, "Older →")));
    } catch (e) {
      if (e.name !== "AbortError") fill(list, errorBox(e));
    }
  };
  const form = h("form", { class: "inline", id: "audit-filters" },
    field("Actor", f.actor), field("Action", f.action), field("Object type", f.object_type), field("Object id", f.object_id),
    h("button", { type: "submit" }, "Filter"));
  const search = () => {
    pages.splice(0, pages.length, `/audit${query({ actor: f.actor.value.trim(), action: f.action.value.trim(),
      object_type: f.object_type.value, object_id: f.object_id.value.trim(), limit: 50 })}`);
    return load();
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); search(); });
  await search();
  return { section: h("section", { class: "card" }, h("h2", {}, "Audit log"), form, list), search };
}
