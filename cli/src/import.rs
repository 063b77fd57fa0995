//! `distcron import-crontab [FILE|-]`: the plan `crontab` reads from the file, printed
//! (`--dry-run`, offline) or made into jobs. Each entry is created with an `Idempotency-Key`
//! derived from its line number and the job it makes, so importing the same file again makes
//! no second job (the API answers the job the key made).

use crate::commands::Ctx;
use crate::crontab::{self, Entry, Kind, What};
use crate::output::{Col, Printer, col};
use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The crontab; `-` (the default) reads standard input.
    #[arg(default_value = "-")]
    pub file: PathBuf,
    /// A system crontab (a user column after the schedule), as /etc/crontab and
    /// /etc/cron.d/* are (those are known by their path).
    #[arg(long)]
    pub system: bool,
    /// In a system crontab, run the jobs as the caller rather than as the user column's user
    /// (`run_as`, or `privileged` for root, both for admins only).
    #[arg(long)]
    pub ignore_user: bool,
    /// The time zone of the entries without `CRON_TZ` above them: by default the machine's
    /// (`TZ`, /etc/timezone or /etc/localtime), the zone cron runs them in.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Print the plan and create nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// One line of the plan, as printed: the job it makes, or the note on it.
struct Line {
    line: usize,
    job: Option<Map<String, Value>>,
    note: String,
}

impl Line {
    fn view(&self) -> Value {
        json!({"line": self.line, "job": self.job, "note": self.note})
    }

    /// The key that makes a second import of this line answer the first one's job.
    fn idempotency_key(&self) -> Option<String> {
        let job = serde_json::to_vec(self.job.as_ref()?).ok()?;
        let mut h = Sha256::new();
        h.update(self.line.to_string().as_bytes());
        h.update(b"\n");
        h.update(&job);
        Some(format!("crontab-{}", &hex::encode(h.finalize())[..48]))
    }
}

const PLAN_COLUMNS: &[Col] = &[
    col("LINE", "line"),
    col("SCHEDULE", "job.schedule"),
    col("TZ", "job.timezone"),
    col("COMMAND", "job.executable"),
    col("NAME", "job.name"),
    col("RUN AS", "job.run_as"),
    col("NOTE", "note"),
];

const RESULT_COLUMNS: &[Col] = &[
    col("LINE", "line"),
    col("ID", "id"),
    col("NAME", "name"),
    col("SCHEDULE", "schedule"),
    col("RESULT", "result"),
];

fn plan(a: &ImportArgs) -> Result<Vec<Line>> {
    let text = if a.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the crontab from stdin")?
    } else {
        std::fs::read_to_string(&a.file).with_context(|| format!("reading {}", a.file.display()))?
    };
    let tz = match &a.tz {
        Some(tz) => {
            distcron_core::TimeZone::parse(tz)
                .unwrap_or_else(|e| crate::commands::usage(&format!("--tz {tz}: {e}")));
            tz.clone()
        }
        None => {
            let (tz, note) = crate::localzone::local();
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            tz
        }
    };
    let kind = if a.system {
        Kind::System
    } else {
        Kind::of_path(&a.file)
    };
    Ok(crontab::parse(&text, kind)
        .into_iter()
        .map(|p| match p.what {
            What::Entry(e) => {
                let (job, note) = job_of(e, &tz, a.ignore_user);
                Line {
                    line: p.line,
                    job: Some(job),
                    note,
                }
            }
            What::Env {
                name,
                applied,
                note,
            } => Line {
                line: p.line,
                job: None,
                note: format!("{name}: {}{note}", if applied { "applied: " } else { "" }),
            },
            What::Skipped(why) => Line {
                line: p.line,
                job: None,
                note: format!("skipped: {why}"),
            },
        })
        .collect())
}

/// The job an entry makes (the API's JSON) and what to say of it.
fn job_of(e: Entry, default_tz: &str, ignore_user: bool) -> (Map<String, Value>, String) {
    let mut job = Map::new();
    job.insert("type".into(), json!("command"));
    job.insert("schedule".into(), json!(e.schedule));
    job.insert("executable".into(), json!(e.command));
    if let Some(name) = e.name {
        job.insert("name".into(), json!(name));
    }
    let tz = e.timezone.as_deref().unwrap_or(default_tz);
    job.insert("timezone".into(), json!(tz));
    let note = match e.user {
        Some(user) if ignore_user => format!("runs as you, not as {user} (--ignore-user)"),
        Some(user) if user == "root" => {
            job.insert("privileged".into(), json!(true));
            "as root: privileged (admins only)".to_string()
        }
        Some(user) => {
            job.insert("run_as".into(), json!(user));
            "run_as (admins only)".to_string()
        }
        None => String::new(),
    };
    (job, note)
}

pub fn dry_run(a: &ImportArgs, out: Printer) -> Result<()> {
    let lines = plan(a)?;
    let views: Vec<Value> = lines.iter().map(Line::view).collect();
    out.list(&views, PLAN_COLUMNS);
    let jobs = lines.iter().filter(|l| l.job.is_some()).count();
    eprintln!("dry run: {jobs} jobs would be created; nothing was sent");
    Ok(())
}

pub async fn import(ctx: &Ctx, a: &ImportArgs) -> Result<ExitCode> {
    let lines = plan(a)?;
    // The jobs there before, so that a job a key answers again is told apart from a new one.
    let before: HashSet<String> = ctx
        .client
        .list("/jobs", &[("limit", "1000".to_string())], true)
        .await?
        .iter()
        .filter_map(|j| j["id"].as_str().map(str::to_string))
        .collect();
    let entries: Vec<&Line> = lines.iter().filter(|l| l.job.is_some()).collect();
    let bar = crate::progress::bar(entries.len() as u64, "importing {bar:40} {pos}/{len} jobs");
    let (mut results, mut failed) = (Vec::new(), 0);
    for line in &lines {
        let Some(job) = &line.job else {
            crate::progress::say(&bar, &format!("line {}: {}", line.line, line.note));
            continue;
        };
        let key = line.idempotency_key();
        let answer =
            crate::commands::jobs::create(ctx, &Value::Object(job.clone()), key.as_deref()).await;
        bar.inc(1);
        let row = match answer {
            Ok(j) => {
                let id = j["id"].as_str().unwrap_or("").to_string();
                let result = if before.contains(&id) {
                    "already imported"
                } else {
                    "created"
                };
                json!({"line": line.line, "id": id, "name": j["name"], "schedule": j["schedule"],
                       "result": result, "job": j})
            }
            Err(e) => {
                failed += 1;
                json!({"line": line.line, "name": job.get("name"), "schedule": job["schedule"],
                       "result": format!("failed: {e}")})
            }
        };
        results.push(row);
    }
    bar.finish_and_clear();
    ctx.out.list(&results, RESULT_COLUMNS);
    let created = results.iter().filter(|r| r["result"] == "created").count();
    eprintln!(
        "{created} created, {} already imported, {failed} failed, {} lines without a job",
        results.len() - created - failed,
        lines.len() - entries.len()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
