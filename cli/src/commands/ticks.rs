//! `distcron ticks JOB [--from --to]`: `GET /jobs/{id}/ticks`, every scheduled time in the
//! window and what became of it.

use super::{Ctx, query};
use crate::client::seg;
use crate::output::{Col, col, print_json, time};
use anyhow::Result;
use clap::Args;
use serde_json::Value;

#[derive(Debug, Args)]
pub struct TicksArgs {
    /// The job's id.
    pub job: String,
    /// The window's start, RFC 3339 (default: an hour before --to).
    #[arg(long)]
    pub from: Option<String>,
    /// The window's end, RFC 3339 (default: now).
    #[arg(long)]
    pub to: Option<String>,
    /// At most this many ticks a page.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Every page of the window, not just the first.
    #[arg(long)]
    pub all: bool,
}

const TICK_COLUMNS: &[Col] = &[
    time("SCHEDULED", "scheduled_at"),
    col("STATE", "state"),
    col("RUN", "run_id"),
    col("ATTEMPTS", "attempts"),
    col("WORKER", "worker"),
    col("CAUGHT UP", "caught_up"),
    col("REASON", "reason"),
];

pub async fn run(ctx: &Ctx, a: TicksArgs) -> Result<()> {
    let q = query([
        ("from", a.from),
        ("to", a.to),
        ("limit", a.limit.map(|l| l.to_string())),
    ]);
    let pages = ctx
        .client
        .list(&format!("/jobs/{}/ticks", seg(&a.job)), &q, a.all)
        .await?;
    // One answer, its ticks those of every page read.
    let mut answer = pages.first().cloned().unwrap_or(Value::Null);
    let ticks: Vec<Value> = pages
        .iter()
        .flat_map(|p| p["ticks"].as_array().cloned().unwrap_or_default())
        .collect();
    if ctx.out.json() {
        answer["ticks"] = Value::Array(ticks);
        print_json(&answer);
        return Ok(());
    }
    eprintln!(
        "job {} from {} to {}",
        a.job,
        ctx.out.time(answer["from"].as_str().unwrap_or("")),
        ctx.out.time(answer["to"].as_str().unwrap_or(""))
    );
    ctx.out.list(&ticks, TICK_COLUMNS);
    Ok(())
}
