//! `distcron audit [filters]`: `GET /audit` (admins), newest first.

use super::{Ctx, query};
use crate::output::{Col, col, time};
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only what this user did.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action (job.create, job.edit, run.kill, user.disable, worker.drain, ...).
    #[arg(long)]
    pub action: Option<String>,
    /// Only actions on objects of this type.
    #[arg(long, value_parser = ["job", "run", "user", "worker"])]
    pub object_type: Option<String>,
    /// Only actions on this object (needs --object-type).
    #[arg(long, requires = "object_type")]
    pub object_id: Option<String>,
    /// From this moment (inclusive), RFC 3339.
    #[arg(long)]
    pub from: Option<String>,
    /// Until this moment (exclusive), RFC 3339.
    #[arg(long)]
    pub to: Option<String>,
    /// At most this many a page.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Every page, not just the first.
    #[arg(long)]
    pub all: bool,
}

const AUDIT_COLUMNS: &[Col] = &[
    time("AT", "at"),
    col("ACTOR", "actor"),
    col("ACTION", "action"),
    col("TYPE", "object_type"),
    col("OBJECT", "object_id"),
    col("DETAIL", "detail"),
];

pub async fn run(ctx: &Ctx, a: AuditArgs) -> Result<()> {
    let q = query([
        ("actor", a.actor),
        ("action", a.action),
        ("object_type", a.object_type),
        ("object_id", a.object_id),
        ("from", a.from),
        ("to", a.to),
        ("limit", a.limit.map(|l| l.to_string())),
    ]);
    let rows = ctx.client.list("/audit", &q, a.all).await?;
    ctx.out.list(&rows, AUDIT_COLUMNS);
    Ok(())
}
