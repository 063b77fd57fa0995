//! Kills, as the leader records them. A kill is a state in MySQL, not a message: the run's
//! `stop_reason` is set (once: a second kill changes nothing), and the worker that holds the
//! run stops it when it sees the reason (at once when ZooKeeper nudges it, else at its next
//! lease renewal), recording it `killed` with that reason, or `skipped` if its process had not
//! started. A retry still waiting its turn has no worker running it: it is `skipped` here. A
//! run that has ended is not changed. Each kill that changes something writes an audit row.

use crate::audit::{self, AuditEntry};
use crate::{Result, Store, StoreError};
use chrono::Utc;
use distcron_core::{JobId, RunId, RunStatus};
use sqlx::{MySql, QueryBuilder, Transaction};

/// What a kill did to the runs it found under way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kills {
    /// Runs asked to stop by this kill, each with the worker that holds it.
    pub asked: Vec<(RunId, Option<String>)>,
    /// Runs an earlier kill (or a disable) had asked to stop already: unchanged.
    pub already_asked: Vec<RunId>,
    /// Retries that were waiting their turn: recorded skipped.
    pub skipped: Vec<RunId>,
}

/// What a kill of one run found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunKill {
    NotFound,
    /// It had ended already: how, and why.
    Ended {
        status: RunStatus,
        reason: Option<String>,
    },
    UnderWay(Kills),
}

/// The reason a kill records: who asked.
pub fn killed_by(actor: &str) -> String {
    format!("killed by {actor}")
}

type Row = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// Kills one run (see the module): `actor` is named in its reason and the audit row.
    pub async fn kill_run(&self, run: &RunId, actor: &str) -> Result<RunKill> {
        let mut tx = self.pool().begin().await?;
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, status, reason, worker_id, stop_reason FROM runs WHERE id = ? FOR UPDATE",
        )
        .bind(run.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(RunKill::NotFound);
        };
        let status: RunStatus = row
            .1
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("run {run}: {e}")))?;
        if !matches!(status, RunStatus::Running | RunStatus::Pending) {
            return Ok(RunKill::Ended {
                status,
                reason: row.2,
            });
        }
        let kills = kill_rows(
            &mut tx,
            vec![row],
            actor,
            "run.kill",
            "run",
            &run.to_string(),
        )
        .await?;
        tx.commit().await?;
        Ok(RunKill::UnderWay(kills))
    }

    /// Kills every run of `job` under way (running, claimed, or a retry waiting its turn).
    pub async fn kill_job_runs(&self, job: &JobId, actor: &str) -> Result<Kills> {
        // Found without locks (from the status index: the runs under way in the cluster, not
        // the job's history, which may be long), then locked by primary key alone and checked
        // again: a locking read over the index would lock its gaps too, and hold up every
        // worker's claims until the kill commits.
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM runs WHERE status IN ('running', 'pending') AND job_id = ?",
        )
        .bind(job.to_string())
        .fetch_all(self.pool())
        .await?;
        if ids.is_empty() {
            return Ok(Kills::default());
        }
        let mut tx = self.pool().begin().await?;
        let mut q: QueryBuilder<MySql> = QueryBuilder::new(
            "SELECT id, status, reason, worker_id, stop_reason FROM runs WHERE id IN (",
        );
        let mut list = q.separated(", ");
        for (id,) in &ids {
            list.push_bind(id);
        }
        q.push(") AND status IN ('running', 'pending') FOR UPDATE");
        let rows: Vec<Row> = q.build_query_as().fetch_all(&mut *tx).await?;
        let kills = kill_rows(&mut tx, rows, actor, "job.kill", "job", &job.to_string()).await?;
        tx.commit().await?;
        Ok(kills)
    }
}

/// Asks the running rows to stop and skips the pending ones, in `tx` (whose locks hold them),
/// with one audit row for the kill if it changed anything.
async fn kill_rows(
    tx: &mut Transaction<'static, MySql>,
    rows: Vec<Row>,
    actor: &str,
    action: &str,
    object_type: &str,
    object_id: &str,
) -> Result<Kills> {
    let reason = killed_by(actor);
    let mut kills = Kills::default();
    for (id, status, _, worker, stop_reason) in rows {
        let id: RunId = id
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("run {id}: {e}")))?;
        match (status.as_str(), stop_reason) {
            ("pending", _) => kills.skipped.push(id),
            (_, Some(_)) => kills.already_asked.push(id),
            _ => kills.asked.push((id, worker)),
        }
    }
    let now = Utc::now();
    if !kills.asked.is_empty() {
        let mut q: QueryBuilder<MySql> = QueryBuilder::new("UPDATE runs SET stop_reason = ");
        q.push_bind(&reason);
        q.push(" WHERE status = 'running' AND stop_reason IS NULL AND id IN (");
        let mut ids = q.separated(", ");
        for (id, _) in &kills.asked {
            ids.push_bind(id.to_string());
        }
        q.push(")");
        q.build().execute(&mut **tx).await?;
    }
    if !kills.skipped.is_empty() {
        let mut q: QueryBuilder<MySql> =
            QueryBuilder::new("UPDATE runs SET status = 'skipped', reason = ");
        q.push_bind(format!("not run: {reason}"));
        q.push(", finished_at = ");
        q.push_bind(now);
        q.push(" WHERE status = 'pending' AND id IN (");
        let mut ids = q.separated(", ");
        for id in &kills.skipped {
            ids.push_bind(id.to_string());
        }
        q.push(")");
        q.build().execute(&mut **tx).await?;
    }
    if !kills.asked.is_empty() || !kills.skipped.is_empty() {
        let ids = |v: Vec<String>| serde_json::Value::from(v);
        audit::record(
            tx,
            AuditEntry {
                at: now,
                actor,
                action,
                object_type,
                object_id,
                detail: serde_json::json!({
                    "asked": ids(kills.asked.iter().map(|(r, _)| r.to_string()).collect()),
                    "skipped": ids(kills.skipped.iter().map(|r| r.to_string()).collect()),
                }),
            },
        )
        .await?;
    }
    Ok(kills)
}
