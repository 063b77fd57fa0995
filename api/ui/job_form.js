// job_form.js — a new job (#/jobs/new) and a job's edit (#/jobs/<id>/edit): the schedule's
// next five fire times in the job's time zone as it is typed (GET /schedule/preview, the
// API's own error next to the field), a script or binary read from disk and sent as base64.

import { call, get, query } from "./api.js";
import { describe } from "./cron.js";
import { errorBox, field, fill, h, time } from "./dom.js";

export function newJobPage(ctx) {
  return form(ctx, null);
}

export async function editJobPage(ctx, id) {
  const job = await get(`/jobs/${encodeURIComponent(id)}`, { signal: ctx.signal });
  return form(ctx, job);
}

const input = (name, attrs = {}) => h("input", { name, id: `job-${name}`, ...attrs });
const select = (name, options, value) => h("select", { name, id: `job-${name}` },
  options.map((o) => h("option", { value: o, selected: o === value }, o)));
const numberInput = (name, min, max) => input(name, { type: "number", min, max, inputmode: "numeric" });

function form(ctx, job) {
  const editing = Boolean(job);
  const c = {
    type: select("type", ["command", "script", "binary"], job?.type || "command"),
    executable: h("textarea", { name: "executable", id: "job-executable", rows: 3, spellcheck: "false" }),
    file: input("file", { type: "file" }),
    name: input("name", { type: "text", autocomplete: "off" }),
    schedule: input("schedule", { type: "text", required: true, autocomplete: "off", spellcheck: "false", placeholder: "*/5 * * * *" }),
    timezone: input("timezone", { type: "text", list: "timezones", autocomplete: "off", placeholder: "UTC" }),
    timeout_seconds: numberInput("timeout_seconds", 1),
    concurrency: select("concurrency", ["allow", "forbid", "replace"], job?.concurrency || "allow"),
    misfire: select("misfire", ["run_once", "skip"], job?.misfire || "run_once"),
    retries: numberInput("retries", 0, 65535),
    retry_backoff_seconds: numberInput("retry_backoff_seconds", 0),
    retry_interrupted: input("retry_interrupted", { type: "checkbox", checked: job ? job.retry_interrupted : true }),
    history_limit: numberInput("history_limit", 1, 1000000),
    memory_mb: numberInput("memory_mb", 1),
    cpu_millis: numberInput("cpu_millis", 1),
    max_processes: numberInput("max_processes", 1),
    privileged: input("privileged", { type: "checkbox", checked: job?.privileged }),
    run_as: input("run_as", { type: "text", autocomplete: "off" }),
  };
  for (const k of ["executable", "name", "schedule", "timezone", "timeout_seconds", "retries",
    "retry_backoff_seconds", "history_limit", "memory_mb", "cpu_millis", "max_processes", "run_as"]) {
    if (job && job[k] !== null && job[k] !== undefined && !(k === "executable" && job.type !== "command")) c[k].value = job[k];
  }
  if (editing) c.type.disabled = true;

  const preview = h("ol", { class: "preview", id: "schedule-preview", "aria-live": "polite" });
  const words = h("div", { class: "hint", id: "schedule-words" });
  const scheduleField = field("Schedule", c.schedule, "crontab(5): 5 fields, or 6 with seconds first; @hourly, @daily, @once…");
  const commandField = field("Command", c.executable, "Run with /bin/sh -c");
  const fileField = field(editing ? "New file (leave empty to keep the current one)" : "File", c.file,
    "Read here and sent base64-encoded; a script needs a #! line");
  commandField.classList.add("wide");
  const problem = h("div", { id: "form-error" });
  const submit = h("button", { type: "submit", class: "primary", id: "job-submit" }, editing ? "Save" : "Create job");

  const showType = () => {
    commandField.hidden = c.type.value !== "command";
    fileField.hidden = c.type.value === "command";
  };
  c.type.addEventListener("change", showType);
  showType();

  let seq = 0;
  let timer = null;
  const refreshPreview = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++seq;
      const err = scheduleField.querySelector(".field-error");
      const schedule = c.schedule.value.trim();
      const tz = c.timezone.value.trim() || "UTC";
      words.textContent = describe(schedule) || "";
      if (!schedule) return fill(preview), fill(err);
      try {
        const p = await get(`/schedule/preview${query({ schedule, timezone: tz, count: 5 })}`, { signal: ctx.signal });
        if (mine !== seq) return;
        fill(err);
        c.schedule.removeAttribute("aria-invalid");
        fill(preview, p.fire_times.length ? p.fire_times.map((t) => h("li", {}, h("time", { datetime: t }, time(t, p.timezone))))
          : h("li", { class: "muted" }, "It never fires."));
      } catch (e) {
        if (mine !== seq || e.name === "AbortError") return;
        fill(preview);
        c.schedule.setAttribute("aria-invalid", "true");
        fill(err, e.message);
      }
    }, 250);
  };
  c.schedule.addEventListener("input", refreshPreview);
  c.timezone.addEventListener("input", refreshPreview);
  refreshPreview();

  const zones = h("datalist", { id: "timezones" },
    (Intl.supportedValuesOf?.("timeZone") || []).concat("UTC").map((z) => h("option", { value: z })));

  const f = h("form", { class: "card", id: "job-form", novalidate: true },
    h("h1", {}, editing ? `Edit ${job.name || job.id}` : "New job"),
    h("div", { class: "grid" },
      field("Type", c.type), field("Name", c.name, "Optional label"),
      commandField, fileField,
      h("div", { class: "wide" }, scheduleField, words,
        h("div", { class: "hint" }, "Next five times, in the job's time zone:"), preview),
      field("Time zone", c.timezone, "IANA name, e.g. Europe/Berlin; default UTC")),
    h("details", { class: "options", open: editing }, h("summary", {}, "Options"),
      h("div", { class: "grid" },
        field("Timeout (seconds)", c.timeout_seconds, "Killed after this long: timed_out"),
        field("Concurrency", c.concurrency, "A tick while the last run still runs"),
        field("Misfire", c.misfire, "Ticks missed while no worker could run them"),
        field("Retries", c.retries), field("Retry backoff (seconds)", c.retry_backoff_seconds, "Default 10, doubling"),
        h("div", { class: "field check" }, c.retry_interrupted, h("label", { for: c.retry_interrupted.id }, "Retry a run whose worker died")),
        field("History limit (runs kept)", c.history_limit),
        field("Memory (MiB)", c.memory_mb), field("CPU (thousandths of a core)", c.cpu_millis),
        field("Max processes", c.max_processes),
        ctx.me.admin ? h("div", { class: "field check" }, c.privileged, h("label", { for: c.privileged.id }, "Privileged (runs as root)")) : null,
        ctx.me.admin ? field("Run as (local user)", c.run_as) : null)),
    zones, problem,
    h("div", { class: "actions" }, submit, h("a", { href: editing ? `#/jobs/${job.id}` : "#/jobs", class: "button" }, "Cancel")));

  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(problem);
    submit.disabled = true;
    try {
      const body = await bodyOf(c, ctx.me, job);
      if (editing && !Object.keys(body).length) {
        location.hash = `#/jobs/${job.id}`;
        return;
      }
      const res = editing
        ? await call("PATCH", `/jobs/${job.id}`, { body, signal: ctx.signal })
        : await call("POST", "/jobs", { body, headers: { "Idempotency-Key": idempotencyKey(f) }, signal: ctx.signal });
      location.hash = `#/jobs/${res.data.id}`;
    } catch (e) {
      if (e.name !== "AbortError") fill(problem, errorBox(e));
    } finally {
      submit.disabled = false;
    }
  });
  fill(ctx.main, f);
}

/** One key per form shown: a submit sent twice (a double click, a retry) makes one job. */
function idempotencyKey(f) {
  f.dataset.key ||= crypto.randomUUID();
  return f.dataset.key;
}

const OPTIONAL_NUMBERS = ["timeout_seconds", "history_limit", "memory_mb", "cpu_millis", "max_processes"];

/** The request's body: every field set (a new job), or only those changed (an edit; an
 *  optional field emptied is null, which clears it). */
async function bodyOf(c, me, job) {
  const v = (k) => c[k].value.trim();
  const want = {
    schedule: v("schedule"), name: v("name") || null, timezone: v("timezone") || "UTC",
    concurrency: c.concurrency.value, misfire: c.misfire.value,
    retries: v("retries") === "" ? 0 : Number(v("retries")),
    retry_backoff_seconds: v("retry_backoff_seconds") === "" ? 10 : Number(v("retry_backoff_seconds")),
    retry_interrupted: c.retry_interrupted.checked,
  };
  for (const k of OPTIONAL_NUMBERS) want[k] = v(k) === "" ? null : Number(v(k));
  if (me.admin) {
    want.privileged = c.privileged.checked;
    want.run_as = v("run_as") || null;
  }
  const type = job ? job.type : c.type.value;
  if (type === "command") want.executable = c.executable.value.trim();
  else if (c.file.files.length) want.content = await base64(c.file.files[0]);
  else if (!job) throw new Error(`Choose the ${type} to upload.`);
  if (!job) {
    want.type = type;
    return Object.fromEntries(Object.entries(want).filter(([, x]) => x !== null));
  }
  return Object.fromEntries(Object.entries(want).filter(([k, x]) => k === "content" || (job[k] ?? null) !== x));
}

/** A file's bytes as base64, read in slices so a large binary does not overflow the stack. */
async function base64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
