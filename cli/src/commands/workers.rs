//! `distcron workers list|drain|undrain`.

use super::Ctx;
use crate::client::seg;
use crate::output::{Col, col, time};
use anyhow::Result;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum WorkersCommand {
    /// Live workers: jobs, runs, heartbeat, gate.
    List,
    /// Hand a worker's jobs to the others and give it no new ones (admins).
    Drain(IdArg),
    /// Let a drained worker take jobs again (admins).
    Undrain(IdArg),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The worker's id.
    pub id: String,
}

const WORKER_COLUMNS: &[Col] = &[
    col("ID", "id"),
    col("HOST", "host"),
    col("JOBS", "jobs"),
    col("RUNNING", "running"),
    col("REACHABLE", "reachable"),
    col("GATE OPEN", "gate.open"),
    col("GATE REASON", "gate.reason"),
    col("DRAINED", "drained"),
    time("HEARTBEAT", "last_heartbeat_at"),
    time("STARTED", "started_at"),
];

pub async fn run(ctx: &Ctx, cmd: WorkersCommand) -> Result<()> {
    let c = &ctx.client;
    let answer = match cmd {
        WorkersCommand::List => {
            let workers = c.list("/workers", &[], false).await?;
            ctx.out.list(&workers, WORKER_COLUMNS);
            return Ok(());
        }
        WorkersCommand::Drain(a) => {
            c.post(&format!("/workers/{}/drain", seg(&a.id)), None, None)
                .await?
        }
        WorkersCommand::Undrain(a) => {
            c.post(&format!("/workers/{}/undrain", seg(&a.id)), None, None)
                .await?
        }
    };
    ctx.out.one(&answer);
    Ok(())
}
