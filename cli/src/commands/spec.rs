//! A job's definition from the command line: the flags `jobs create` and `jobs edit` share,
//! a job file (`-f job.yaml|job.json`, the API's own job JSON), or both (the flags win).

use anyhow::{Context, Result};
use base64::Engine;
use clap::Args;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct JobFlags {
    /// crontab(5) schedule: five fields, six with seconds first, @hourly, @daily, ... or @once.
    #[arg(long)]
    pub schedule: Option<String>,
    /// A command line, run with /bin/sh -c (a `command` job).
    #[arg(long, conflicts_with = "file")]
    pub command: Option<String>,
    /// A script (or with --binary a binary) to upload; read and base64-encoded here.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// The --file is a binary, not a script.
    #[arg(long, requires = "file")]
    pub binary: bool,
    /// A label.
    #[arg(long)]
    pub name: Option<String>,
    /// The IANA time zone the schedule is read in (default UTC).
    #[arg(long, alias = "tz")]
    pub timezone: Option<String>,
    /// Kill a run after this many seconds (`timed_out`).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
    /// A tick while the previous run still runs.
    #[arg(long, value_parser = ["allow", "forbid", "replace"])]
    pub concurrency: Option<String>,
    /// Ticks missed while no worker could run them.
    #[arg(long, value_parser = ["run_once", "skip"])]
    pub misfire: Option<String>,
    /// Retry a failed or timed-out run this many times.
    #[arg(long)]
    pub retries: Option<u16>,
    /// Seconds before the first retry, doubling each time.
    #[arg(long, value_name = "SECONDS")]
    pub retry_backoff: Option<u32>,
    /// Retry once a run whose worker died mid-run.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub retry_interrupted: Option<bool>,
    /// How many of its runs the job keeps.
    #[arg(long)]
    pub history_limit: Option<u32>,
    /// Memory (and swap) one run may use, MiB.
    #[arg(long)]
    pub memory_mb: Option<u32>,
    /// CPU one run may use, thousandths of a core.
    #[arg(long)]
    pub cpu_millis: Option<u32>,
    /// Processes and threads one run may have at once.
    #[arg(long)]
    pub max_processes: Option<u32>,
    /// Run as root (admins only).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub privileged: Option<bool>,
    /// Run as this local user (admins only).
    #[arg(long, value_name = "USER")]
    pub run_as: Option<String>,
    /// A job file (YAML or JSON, `-` for stdin): the API's job JSON; flags override its fields.
    #[arg(short = 'f', long = "job-file", value_name = "FILE")]
    pub job_file: Option<PathBuf>,
}

impl JobFlags {
    /// The request body: the job file's fields, then the flags'. For a create, a `--command`
    /// or `--file` also sets the type (an edit cannot change it).
    pub fn body(&self, create: bool) -> Result<Map<String, Value>> {
        let mut body = match &self.job_file {
            Some(path) => read_job_file(path)?,
            None => Map::new(),
        };
        let mut set = |k: &str, v: Value| {
            body.insert(k.to_string(), v);
        };
        if let Some(cmd) = &self.command {
            set("executable", json!(cmd));
            if create {
                set("type", json!("command"));
            }
        }
        if let Some(path) = &self.file {
            let bytes = std::fs::read(path)
                .unwrap_or_else(|e| super::usage(&format!("--file {}: {e}", path.display())));
            set(
                "content",
                json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
            if create {
                set("type", json!(if self.binary { "binary" } else { "script" }));
            }
        }
        let fields = [
            ("schedule", self.schedule.clone().map(Value::from)),
            ("name", self.name.clone().map(Value::from)),
            ("timezone", self.timezone.clone().map(Value::from)),
            ("timeout_seconds", self.timeout.map(Value::from)),
            ("concurrency", self.concurrency.clone().map(Value::from)),
            ("misfire", self.misfire.clone().map(Value::from)),
            ("retries", self.retries.map(Value::from)),
            ("retry_backoff_seconds", self.retry_backoff.map(Value::from)),
            ("retry_interrupted", self.retry_interrupted.map(Value::from)),
            ("history_limit", self.history_limit.map(Value::from)),
            ("memory_mb", self.memory_mb.map(Value::from)),
            ("cpu_millis", self.cpu_millis.map(Value::from)),
            ("max_processes", self.max_processes.map(Value::from)),
            ("privileged", self.privileged.map(Value::from)),
            ("run_as", self.run_as.clone().map(Value::from)),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                set(k, v);
            }
        }
        Ok(body)
    }
}

/// A job file: JSON if it says so (`.json`), else YAML (which reads JSON too).
fn read_job_file(path: &Path) -> Result<Map<String, Value>> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading the job from stdin")?
    } else {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| super::usage(&format!("-f {}: {e}", path.display())))
    };
    let value: Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?
    } else {
        serde_yaml_ng::from_str(&text)
            .with_context(|| format!("{} is not YAML or JSON", path.display()))?
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => anyhow::bail!("{}: a job is an object of fields", path.display()),
    }
}
