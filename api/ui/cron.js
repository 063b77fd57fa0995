// cron.js — a crontab(5) schedule in words, for the common shapes ("every 10 seconds",
// "at 09:00, Monday to Friday"). What it cannot say simply it leaves to the fire times that
// GET /schedule/preview lists (the API is the judge of what a schedule means): null.

const MACROS = {
  "@yearly": "once a year, at 00:00 on 1 January",
  "@annually": "once a year, at 00:00 on 1 January",
  "@monthly": "at 00:00 on the 1st of every month",
  "@weekly": "at 00:00 every Sunday",
  "@daily": "every day at 00:00",
  "@midnight": "every day at 00:00",
  "@hourly": "every hour, at minute 0",
  "@once": "once, as soon as possible",
};
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const MONTHS = ["", "January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];
const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const MONTH_NAMES = ["", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

const num = (s, names) => {
  const i = names ? names.indexOf(s.toLowerCase()) : -1;
  if (i >= 0) return i;
  return /^\d+$/.test(s) ? Number(s) : NaN;
};

/** One field's values in words, e.g. "Monday to Friday", "1, 15"; null for "*". */
function values(field, label, names) {
  if (field === "*") return null;
  const parts = field.split(",").map((p) => {
    const [range, step] = p.split("/");
    let text;
    if (range === "*") text = null;
    else if (range.includes("-")) {
      const [a, b] = range.split("-").map((x) => num(x, names));
      if (Number.isNaN(a) || Number.isNaN(b)) throw new Error();
      text = `${label(a)} to ${label(b)}`;
    } else {
      const a = num(range, names);
      if (Number.isNaN(a)) throw new Error();
      text = label(a);
    }
    if (step === undefined) return text;
    if (!/^\d+$/.test(step)) throw new Error();
    return `every ${step}${text ? ` from ${text}` : ""}`;
  });
  return parts.join(", ");
}

const two = (n) => String(n).padStart(2, "0");
const single = (f) => /^\d+$/.test(f);

/** `expr` in words, or null when it is not a shape said simply (or not valid). */
export function describe(expr) {
  const e = (expr || "").trim().toLowerCase();
  if (MACROS[e]) return MACROS[e].charAt(0).toUpperCase() + MACROS[e].slice(1);
  let f = e.split(/\s+/);
  if (f.length !== 5 && f.length !== 6) return null;
  const sec = f.length === 6 ? f.shift() : null;
  const [min, hour, dom, mon, dow] = f;
  try {
    let time;
    if (single(min) && single(hour) && (sec === null || single(sec))) {
      time = `at ${two(hour)}:${two(min)}${sec && sec !== "0" ? `:${two(sec)}` : ""}`;
    } else {
      const bits = [];
      const step = (field, unit) => {
        const m = /^\*\/(\d+)$/.exec(field);
        return m ? `every ${m[1]} ${unit}s` : null;
      };
      if (sec !== null) bits.push(sec === "*" ? "every second" : step(sec, "second") || `at second ${values(sec, String)}`);
      if (min === "*") { if (sec === null) bits.push("every minute"); } else bits.push(step(min, "minute") || `at minute ${values(min, String)}`);
      if (hour !== "*") bits.push(step(hour, "hour") || `during hour ${values(hour, String)}`);
      time = bits.join(", ");
      if (hour === "*" && min !== "*" && sec === null && !step(min, "minute")) time += " of every hour";
    }
    const days = [];
    const d = values(dom, (n) => `day ${n}`);
    const w = values(dow, (n) => DAYS[n] ?? String(n), DAY_NAMES);
    if (d && w) days.push(`on ${d} of the month or on ${w}`);
    else if (d) days.push(`on ${d} of the month`);
    else if (w) days.push(`on ${w}`);
    const m = values(mon, (n) => MONTHS[n] ?? String(n), MONTH_NAMES);
    if (m) days.push(`in ${m}`);
    if (!days.length && /^at \d/.test(time)) days.push("every day");
    const text = [time, ...days].join(days[0] === "every day" ? " " : ", ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  } catch {
    return null;
  }
}
