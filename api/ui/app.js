// app.js — the page's shell: signing in and out, who is signed in, and hash routing
// (#/jobs, #/jobs/<id>, #/runs/<id>, #/workers, #/admin) to the views of the other modules.

import { ApiError, get, setToken, token, whenUnauthorized } from "./api.js";
import { errorBox, fill, h } from "./dom.js";
import { jobsPage } from "./jobs.js";
import { editJobPage, newJobPage } from "./job_form.js";
import { jobPage } from "./job.js";
import { runPage } from "./run.js";
import { workersPage } from "./workers.js";
import { adminPage } from "./admin.js";

const ROUTES = [
  [/^#\/jobs\/?$/, jobsPage],
  [/^#\/jobs\/new$/, newJobPage],
  [/^#\/jobs\/([^/]+)\/edit$/, editJobPage],
  [/^#\/jobs\/([^/]+)$/, jobPage],
  [/^#\/runs\/([^/]+)$/, runPage],
  [/^#\/workers$/, workersPage],
  [/^#\/admin$/, adminPage],
];

const main = document.getElementById("main");
let me = null;
let leave = null;

/** What a view gets: where to draw, who is signed in, and what ends when it is left. */
function context() {
  const controller = new AbortController();
  const timers = [];
  const ctx = {
    main, me, signal: controller.signal,
    /** Runs `f` every `ms` while the view is shown (not again before the last call ended). */
    every(ms, f) {
      // A view left while it was still loading starts no timer.
      if (controller.signal.aborted) return;
      let busy = false;
      timers.push(setInterval(async () => {
        if (busy || document.hidden) return;
        busy = true;
        try { await f(); } finally { busy = false; }
      }, ms));
    },
  };
  leave = () => {
    controller.abort();
    timers.forEach(clearInterval);
  };
  return ctx;
}

async function route() {
  if (leave) leave();
  if (!token()) return signIn();
  if (!me) {
    try {
      me = await get("/whoami");
    } catch (e) {
      // Only a refused token signs out; an outage is said, with a way to try again.
      if (e.status === 401) return signIn(e);
      fill(main, h("h1", {}, "The API is not answering"), errorBox(e),
        h("button", { type: "button", class: "primary", onclick: route }, "Try again"));
      return;
    }
    showWho();
  }
  const hash = location.hash || "#/jobs";
  for (const [re, view] of ROUTES) {
    const m = re.exec(hash);
    if (!m) continue;
    const ctx = context();
    document.querySelectorAll("#nav a").forEach((a) => {
      const current = hash.startsWith(a.getAttribute("href"))
        && !(a.getAttribute("href") === "#/jobs" && hash === "#/jobs/new");
      if (current) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    fill(main, h("p", { class: "muted" }, "Loading…"));
    try {
      await view(ctx, ...m.slice(1).map(decodeURIComponent));
    } catch (e) {
      if (e.name === "AbortError") return;
      fill(main, h("h1", {}, "Something went wrong"), errorBox(e));
    }
    return;
  }
  fill(main, h("h1", {}, "Not found"), errorBox(new Error(`There is no page ${hash}.`)),
    h("p", {}, h("a", { href: "#/jobs" }, "Back to the jobs")));
}

function showWho() {
  document.getElementById("nav").hidden = false;
  document.getElementById("nav-admin").hidden = !me.admin;
  fill(document.getElementById("who"),
    h("span", { id: "me" }, "Signed in as ", h("strong", {}, me.name), me.admin ? " (admin)" : ""),
    h("button", { type: "button", class: "link", id: "sign-out", onclick: signOut }, "Sign out"));
}

function signOut() {
  setToken(null);
  me = null;
  location.hash = "#/jobs";
  route();
}

function signIn(err) {
  // The view shown until now stops polling (with no token, its requests would be 401s).
  if (leave) leave();
  leave = null;
  setToken(null);
  me = null;
  document.getElementById("nav").hidden = true;
  fill(document.getElementById("who"));
  const input = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", required: true, spellcheck: "false" });
  const problem = h("div", { id: "sign-in-error" }, err ? errorBox(err instanceof ApiError && err.status === 401
    ? new Error(`That token was not accepted: ${err.message}`) : err) : null);
  const form = h("form", { class: "card narrow", id: "sign-in" },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste your distcron API token. It is kept in this tab only (sessionStorage), and sent to the API with each request."),
    h("label", { for: "token" }, "API token"), input, problem,
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setToken(input.value.trim());
    try {
      me = await get("/whoami");
    } catch (e) {
      setToken(null);
      fill(problem, errorBox(e.status === 401 ? new Error(`That token was not accepted: ${e.message}`) : e));
      return;
    }
    showWho();
    route();
  });
  fill(main, form);
  input.focus();
}

whenUnauthorized(() => {
  // The token stopped working (replaced, its user disabled): back to signing in, saying why.
  if (me) signIn(new Error("Your token stopped working (replaced, or its user disabled): sign in again."));
});
window.addEventListener("hashchange", route);
route();
