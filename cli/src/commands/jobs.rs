//! `distcron jobs ...`: one API call each (`POST /jobs`, `GET /jobs`, `PATCH /jobs/{id}`, ...).

use super::spec::JobFlags;
use super::{Ctx, query, usage};
use crate::client::{Body, seg};
use crate::output::{Col, col, time};
use anyhow::Result;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Create a job from flags or a job file (-f).
    Create(CreateArgs),
    /// List jobs in creation order.
    List(ListArgs),
    /// Show one job.
    Get(IdArg),
    /// Change a job (only the fields given; --clear FIELD unsets an optional one).
    Edit(EditArgs),
    /// Take a job off the schedule (it stays, `finished`).
    Delete(IdArg),
    /// Stop a job's ticks until resumed.
    Pause(IdArg),
    /// Put a paused job back on its schedule.
    Resume(IdArg),
    /// Run a job once now.
    Trigger(TriggerArgs),
    /// Stop every run of a job under way.
    Kill(IdArg),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The job's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub spec: JobFlags,
    /// The same key (and definition) again answers the same job and creates none.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The job's id.
    pub id: String,
    #[command(flatten)]
    pub spec: JobFlags,
    /// Unset an optional field (name, timeout_seconds, history_limit, memory_mb, ...).
    #[arg(long, value_name = "FIELD")]
    pub clear: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only jobs in this state.
    #[arg(long, value_parser = ["scheduled", "error", "paused", "finished"])]
    pub status: Option<String>,
    /// Only this user's jobs (admins).
    #[arg(long)]
    pub owner: Option<String>,
    /// At most this many a page (the API's default: 100; at most 1000).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Every page, not just the first.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The job's id.
    pub id: String,
    /// The same key again answers the same run and starts none.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

pub const JOB_COLUMNS: &[Col] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("STATUS", "status"),
    col("SCHEDULE", "schedule"),
    col("TZ", "timezone"),
    col("TYPE", "type"),
    time("NEXT RUN", "next_run_at"),
    col("OWNER", "owner"),
];

pub async fn run(ctx: impl FnOnce() -> Result<Ctx>, cmd: JobsCommand) -> Result<()> {
    // The bodies first: a usage error is one whatever the URL and token.
    let body = match &cmd {
        JobsCommand::Create(a) => Some(create_body(&a.spec)?),
        JobsCommand::Edit(a) => Some(edit_body(a)?),
        _ => None,
    };
    let ctx = &ctx()?;
    let c = &ctx.client;
    let job = |id: &str| format!("/jobs/{}", seg(id));
    let answer = match cmd {
        JobsCommand::Create(a) => {
            let body = body.expect("a body");
            create(ctx, &body, a.idempotency_key.as_deref()).await?
        }
        JobsCommand::List(a) => {
            let q = query([
                ("status", a.status),
                ("owner", a.owner),
                ("limit", a.limit.map(|l| l.to_string())),
            ]);
            let jobs = c.list("/jobs", &q, a.all).await?;
            ctx.out.list(&jobs, JOB_COLUMNS);
            return Ok(());
        }
        JobsCommand::Get(a) => c.get(&job(&a.id), &[]).await?,
        JobsCommand::Edit(a) => c.patch(&job(&a.id), &body.expect("a body")).await?,
        JobsCommand::Delete(a) => c.delete(&job(&a.id)).await?,
        JobsCommand::Pause(a) => c.post(&format!("{}/pause", job(&a.id)), None, None).await?,
        JobsCommand::Resume(a) => {
            c.post(&format!("{}/resume", job(&a.id)), None, None)
                .await?
        }
        JobsCommand::Kill(a) => c.post(&format!("{}/kill", job(&a.id)), None, None).await?,
        JobsCommand::Trigger(a) => {
            let path = format!("{}/trigger", job(&a.id));
            c.post(&path, None, a.idempotency_key.as_deref()).await?
        }
    };
    ctx.out.one(&answer);
    Ok(())
}

/// A create's body: it needs a schedule and something to run, from the flags or the job file.
fn create_body(spec: &JobFlags) -> Result<Value> {
    let body = spec.body(true)?;
    if !body.contains_key("schedule") {
        usage("jobs create needs --schedule (or a job file with a schedule, -f FILE)");
    }
    if !body.contains_key("type") {
        usage(
            "jobs create needs --command CMD or --file PATH (or a job file with a type, -f FILE)",
        );
    }
    Ok(Value::Object(body))
}

/// An edit's body: the fields given, those of --clear null.
fn edit_body(a: &EditArgs) -> Result<Value> {
    let mut body = a.spec.body(false)?;
    for field in &a.clear {
        body.insert(field.clone(), Value::Null);
    }
    if body.is_empty() {
        usage("jobs edit: nothing to change (give a flag, -f FILE or --clear FIELD)");
    }
    Ok(Value::Object(body))
}

/// `POST /jobs`, the body sent encoded (a large upload gets a progress bar).
pub async fn create(ctx: &Ctx, body: &Value, key: Option<&str>) -> Result<Value> {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    let bytes = serde_json::to_vec(body)?;
    let answer = ctx
        .client
        .send(
            Method::POST,
            "/jobs",
            &[],
            Some(Body::Encoded(bytes)),
            &headers,
        )
        .await?;
    Ok(answer.body)
}
