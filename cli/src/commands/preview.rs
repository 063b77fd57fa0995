//! `distcron preview SCHEDULE [--tz] [--count]`: `GET /schedule/preview`, the next fire times
//! by the same rules (and errors) as a job's.

use super::{Ctx, query};
use crate::output::print_json;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The crontab(5) schedule.
    pub schedule: String,
    /// The IANA time zone it is read in (default UTC).
    #[arg(long, alias = "timezone")]
    pub tz: Option<String>,
    /// How many fire times (at most 1000).
    #[arg(long)]
    pub count: Option<u32>,
    /// From this moment on, RFC 3339 (default: now).
    #[arg(long)]
    pub after: Option<String>,
}

pub async fn run(ctx: &Ctx, a: PreviewArgs) -> Result<()> {
    let q = query([
        ("schedule", Some(a.schedule)),
        ("timezone", a.tz),
        ("count", a.count.map(|c| c.to_string())),
        ("after", a.after),
    ]);
    let answer = ctx.client.get("/schedule/preview", &q).await?;
    if ctx.out.json() {
        print_json(&answer);
        return Ok(());
    }
    for t in answer["fire_times"].as_array().into_iter().flatten() {
        crate::output::emit(&format!("{}\n", ctx.out.time(t.as_str().unwrap_or(""))));
    }
    Ok(())
}
