//! `distcron runs ...`: runs under way (`GET /runs`) or a job's (`GET /jobs/{id}/runs`), one
//! run with its output, a kill.

use super::{Ctx, query};
use crate::client::seg;
use crate::output::{Col, col, time};
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Runs under way (yours, or all for admins), or with --job a job's runs, newest first.
    List(ListArgs),
    /// One run, with its output so far.
    Get(IdArg),
    /// Stop a run and everything it started.
    Kill(IdArg),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The run's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// `running` (the default: claimed ones too) or `pending` (retries and manual runs
    /// waiting their turn).
    #[arg(long, value_parser = ["running", "pending"], conflicts_with = "job")]
    pub status: Option<String>,
    /// This job's runs, ended ones included.
    #[arg(long)]
    pub job: Option<String>,
    /// At most this many a page.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Every page, not just the first.
    #[arg(long)]
    pub all: bool,
}

pub const RUN_COLUMNS: &[Col] = &[
    col("ID", "id"),
    col("JOB", "job_id"),
    col("STATUS", "status"),
    col("ATTEMPT", "attempt"),
    col("TRIGGER", "trigger"),
    time("SCHEDULED", "scheduled_at"),
    time("STARTED", "started_at"),
    time("FINISHED", "finished_at"),
    col("EXIT", "exit_code"),
    col("WORKER", "worker"),
    col("REASON", "reason"),
];

pub async fn run(ctx: &Ctx, cmd: RunsCommand) -> Result<()> {
    let c = &ctx.client;
    match cmd {
        RunsCommand::List(a) => {
            let limit = a.limit.map(|l| l.to_string());
            let runs = match a.job {
                Some(job) => {
                    let q = query([("limit", limit)]);
                    c.list(&format!("/jobs/{}/runs", seg(&job)), &q, a.all)
                        .await?
                }
                None => {
                    let q = query([("status", a.status), ("limit", limit)]);
                    c.list("/runs", &q, a.all).await?
                }
            };
            ctx.out.list(&runs, RUN_COLUMNS);
        }
        RunsCommand::Get(a) => {
            let run = c.get(&format!("/runs/{}", seg(&a.id)), &[]).await?;
            show_run(ctx, run);
        }
        RunsCommand::Kill(a) => {
            let answer = c
                .post(&format!("/runs/{}/kill", seg(&a.id)), None, None)
                .await?;
            ctx.out.one(&answer);
        }
    }
    Ok(())
}

/// A run: its fields, then what it printed on each stream.
fn show_run(ctx: &Ctx, mut run: Value) {
    if ctx.out.json() {
        return ctx.out.one(&run);
    }
    let output = run.as_object_mut().and_then(|m| m.remove("output"));
    ctx.out.one(&run);
    if let Some(output) = output.filter(|o| o.is_object()) {
        for stream in ["stdout", "stderr"] {
            let text = output[stream].as_str().unwrap_or("");
            let cut = if output[format!("{stream}_truncated")] == true {
                " (truncated)"
            } else {
                ""
            };
            let end = if !text.is_empty() && !text.ends_with('\n') {
                "\n"
            } else {
                ""
            };
            crate::output::emit(&format!("\n--- {stream}{cut} ---\n{text}{end}"));
        }
    }
}
