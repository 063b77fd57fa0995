//! Reading a crontab into the jobs it means, without I/O: a user's crontab (`crontab -l`) or a
//! system one (`/etc/crontab`, `/etc/cron.d/*`: a user column after the schedule). What each
//! line becomes:
//!
//! - an entry: a job, its schedule checked by distcron's own parser (`distcron_core`), its name
//!   the comment line directly above it, if any;
//! - `%` in a command as crontab(5) has it: the first unescaped `%` ends the command and what
//!   follows is its standard input, each further `%` a newline (a last newline added to a
//!   non-empty input, as cron does); `\%` is a literal `%`, `\\%` an escaped backslash and
//!   then the end of the command. distcron runs commands with stdin closed, so the input is
//!   piped in: `printf '%s' '<input>' | (<command>)`;
//! - `CRON_TZ=` (cronie's): the time zone of the entries below it; an empty `CRON_TZ=` goes
//!   back to the default zone (`--tz`). `TZ=` is not a schedule zone in cron: like any other
//!   variable, it is exported to the commands;
//! - `SHELL=/bin/sh`: what distcron does anyway; another shell is reported, not applied
//!   (distcron runs every command with `/bin/sh -c`);
//! - `MAILTO=`, `MAILFROM=`, `RANDOM_DELAY=`: reported, not applied (distcron keeps each run's
//!   output instead of mailing it, and fires on time);
//! - any other variable (`PATH=`, `HOME=`, `FOO=`): exported to the commands below it, each
//!   command prefixed with `export NAME='value'; ` (so a `PATH` line works as it does in cron);
//! - `@reboot`, a line distcron cannot read (a bad field, no command), an entry below an unknown
//!   time zone: reported with why, and skipped.

use distcron_core::{Schedule, TimeZone};

/// Which format the file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `crontab -l`: schedule, command.
    User,
    /// `/etc/crontab`, `/etc/cron.d`: schedule, user, command.
    System,
}

impl Kind {
    /// The system format for `/etc/crontab` and the files of `/etc/cron.d`, else a user's.
    pub fn of_path(path: &std::path::Path) -> Kind {
        let system = path == std::path::Path::new("/etc/crontab")
            || path.parent() == Some(std::path::Path::new("/etc/cron.d"));
        if system { Kind::System } else { Kind::User }
    }
}

/// A job an entry becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub schedule: String,
    /// From `CRON_TZ` above it; `None` is the default zone (import-crontab's `--tz`).
    pub timezone: Option<String>,
    /// The command distcron runs (exports and piped input included).
    pub command: String,
    pub name: Option<String>,
    /// The user column of a system crontab.
    pub user: Option<String>,
}

/// What one line of the file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    Entry(Entry),
    /// An environment line: applied or not, and how.
    Env {
        name: String,
        applied: bool,
        note: String,
    },
    /// A line that makes no job, and why.
    Skipped(String),
}

/// A line of the plan (comments and blank lines make none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// From 1.
    pub line: usize,
    pub what: What,
}

/// The environment in force at a line.
#[derive(Default)]
struct Env {
    /// The time zone, or why the one named is unusable.
    tz: Option<Result<String, String>>,
    exports: Vec<(String, String)>,
}

pub fn parse(text: &str, kind: Kind) -> Vec<Planned> {
    let mut env = Env::default();
    let mut comment: Option<String> = None;
    let mut plan = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        let above = comment.take();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(c) = trimmed.strip_prefix('#') {
            comment = comment_name(c, kind);
            continue;
        }
        let what = if let Some((name, value)) = env_line(trimmed) {
            env.set(&name, value)
        } else {
            entry(trimmed, kind, &env, above)
        };
        plan.push(Planned { line: i + 1, what });
    }
    plan
}

/// The job name a comment line gives the entry below it: control characters made spaces and
/// whitespace collapsed (the API refuses control characters in names); none for a
/// commented-out entry or Debian's template header (`# m h  dom mon dow   command`).
fn comment_name(comment: &str, kind: Kind) -> Option<String> {
    let c = comment.trim_start_matches('#');
    let words: Vec<&str> = c
        .split(|ch: char| ch.is_whitespace() || ch.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let name = words.join(" ");
    let header = words.len() >= 6 && words[..5] == ["m", "h", "dom", "mon", "dow"];
    let commented_out = matches!(entry(&name, kind, &Env::default(), None), What::Entry(_))
        || env_line(&name).is_some();
    if name.is_empty() || header || commented_out {
        return None;
    }
    Some(
        name.chars()
            .take(distcron_core::job::MAX_NAME_CHARS)
            .collect(),
    )
}

impl Env {
    fn set(&mut self, name: &str, value: String) -> What {
        let (applied, note) = match name {
            "CRON_TZ" if value.is_empty() => {
                self.tz = None;
                (true, "the entries below are in the default time zone".to_string())
            }
            "CRON_TZ" => match TimeZone::parse(&value) {
                Ok(_) => {
                    self.tz = Some(Ok(value.clone()));
                    (true, format!("the time zone of the entries below: {value}"))
                }
                Err(e) => {
                    self.tz = Some(Err(format!("{name}={value} above it: {e}")));
                    (false, format!("not applied: {e}; the entries below are skipped"))
                }
            },
            "SHELL" if matches!(value.as_str(), "/bin/sh" | "/usr/bin/sh") => {
                (true, "distcron runs commands with /bin/sh -c".to_string())
            }
            "SHELL" => (
                false,
                format!("not applied: distcron runs commands with /bin/sh -c, not {value}"),
            ),
            "MAILTO" | "MAILFROM" => (
                false,
                "not applied: distcron keeps each run's output (distcron logs RUN), it mails nothing"
                    .to_string(),
            ),
            "RANDOM_DELAY" => (false, "not applied: distcron fires on time".to_string()),
            _ => {
                self.exports.retain(|(n, _)| n != name);
                self.exports.push((name.to_string(), value));
                (true, format!("exported to the commands below (export {name}=...;)"))
            }
        };
        What::Env {
            name: name.to_string(),
            applied,
            note,
        }
    }
}

/// `NAME = value` (the value optionally quoted), as cron reads environment lines.
fn env_line(line: &str) -> Option<(String, String)> {
    let (name, value) = line.split_once('=')?;
    let name = name.trim();
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return None;
    }
    let value = value.trim();
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q))
        .filter(|_| value.len() >= 2)
        .unwrap_or(value);
    Some((name.to_string(), unquoted.to_string()))
}

fn entry(line: &str, kind: Kind, env: &Env, name: Option<String>) -> What {
    let fields = if line.starts_with('@') { 1 } else { 5 };
    let user_fields = usize::from(kind == Kind::System);
    let Some((tokens, command)) = take_fields(line, fields + user_fields) else {
        let needs = if kind == Kind::System {
            "a schedule, a user and a command"
        } else {
            "a schedule and a command"
        };
        return What::Skipped(format!("not a crontab entry: it needs {needs}"));
    };
    let schedule = tokens[..fields].join(" ");
    if schedule == "@reboot" {
        return What::Skipped("@reboot: distcron has no boot to run it at".to_string());
    }
    if schedule == "@once" {
        return What::Skipped("@once is distcron's, not crontab(5)'s".to_string());
    }
    if let Err(e) = Schedule::parse(&schedule) {
        return What::Skipped(format!("bad schedule {schedule:?}: {e}"));
    }
    let timezone = match &env.tz {
        Some(Err(why)) => return What::Skipped(format!("an unknown time zone: {why}")),
        Some(Ok(tz)) => Some(tz.clone()),
        None => None,
    };
    let (command, input) = split_percent(command);
    if command.trim().is_empty() {
        return What::Skipped("no command".to_string());
    }
    let mut run = String::new();
    for (k, v) in &env.exports {
        run.push_str(&format!("export {k}={}; ", quote(v)));
    }
    match input {
        Some(input) => run.push_str(&format!("printf '%s' {} | (\n{command}\n)", quote(&input))),
        None => run.push_str(&command),
    }
    What::Entry(Entry {
        schedule,
        timezone,
        command: run,
        name,
        user: (kind == Kind::System).then(|| tokens[fields].to_string()),
    })
}

/// The first `n` whitespace-separated fields and the rest of the line (non-empty).
fn take_fields(line: &str, n: usize) -> Option<(Vec<&str>, &str)> {
    let mut rest = line;
    let mut tokens = Vec::with_capacity(n);
    for _ in 0..n {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        tokens.push(&rest[..end]);
        rest = &rest[end..];
    }
    let rest = rest.trim_start();
    (!rest.is_empty()).then_some((tokens, rest))
}

/// crontab(5)'s `%`, as cron's loop reads it: the command before the first unescaped `%`
/// (`\%` a literal `%`; `\\` an escaped backslash, kept, so a `%` after it still ends the
/// command), and the standard input after it, each further `%` a newline, ending with one
/// unless it is empty (`cmd%` pipes nothing).
fn split_percent(command: &str) -> (String, Option<String>) {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in command.chars() {
        let part = parts.last_mut().expect("a part");
        if escaped {
            if c != '%' {
                part.push('\\');
            }
            part.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '%' {
            parts.push(String::new());
        } else {
            part.push(c);
        }
    }
    if escaped {
        parts.last_mut().expect("a part").push('\\');
    }
    let command = parts.remove(0);
    if parts.is_empty() {
        return (command, None);
    }
    let mut input = parts.join("\n");
    if !input.is_empty() && !input.ends_with('\n') {
        input.push('\n');
    }
    (command, Some(input))
}

/// `s` as one word of `/bin/sh`, in single quotes.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
#[path = "crontab_tests.rs"]
mod tests;
