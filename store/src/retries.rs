//! Interrupted runs and retries waiting their turn. A pending retry is a row of its own
//! (`status = 'pending'`, the next attempt, `not_before`) that names the worker expected to run
//! it: the one that recorded the failure, or the job's owner when the leader's reaper queued
//! it. That worker keeps it in its deadline queue and claims it at its time; the leader points
//! a retry nobody took at the job's current owner.

use crate::{Claimant, Result, Store, StoreError};
use chrono::{DateTime, Utc};
use distcron_core::{JobId, JobStatus, RunId, RunStatus};
use sqlx::{MySql, QueryBuilder};
use std::collections::HashSet;
use std::time::Duration;

/// Rows per multi-row statement.
const CHUNK: usize = 1000;

/// A running run whose lease has not been renewed in time.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StaleRun {
    pub id: String,
    pub job_id: String,
    pub scheduled_at: DateTime<Utc>,
    pub attempt: u16,
    pub worker_id: Option<String>,
    pub incarnation: Option<String>,
    pub retry_interrupted: bool,
    /// The job's schedule expression.
    pub schedule: String,
}

/// What `claim_retries` took.
#[derive(Debug, Default)]
pub struct RetryClaim {
    pub taken: HashSet<RunId>,
    /// Not taken because MySQL failed: to try again.
    pub again: Vec<RunId>,
    pub error: Option<StoreError>,
}

/// A retry waiting for its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRetry {
    pub id: RunId,
    pub job_id: JobId,
    pub scheduled_at: DateTime<Utc>,
    pub attempt: u16,
    pub not_before: DateTime<Utc>,
    /// The worker expected to run it.
    pub worker_id: Option<String>,
    /// Who asked for the run outside the schedule, if anyone did (`Run::triggered_by`).
    pub triggered_by: Option<String>,
}

pub(crate) type PendingRow = (
    String,
    String,
    DateTime<Utc>,
    u16,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
);

pub(crate) const PENDING_COLUMNS: &str =
    "id, job_id, scheduled_at, attempt, not_before, worker_id, triggered_by";

pub(crate) fn pending(rows: Vec<PendingRow>) -> Vec<PendingRetry> {
    rows.into_iter()
        .filter_map(
            |(id, job, at, attempt, not_before, worker_id, triggered_by)| {
                Some(PendingRetry {
                    id: id.parse().ok()?,
                    job_id: job.parse().ok()?,
                    scheduled_at: at,
                    attempt,
                    not_before: not_before.unwrap_or(at),
                    worker_id,
                    triggered_by,
                })
            },
        )
        .collect()
}

impl Store {
    /// Queues a retry: attempt `attempt` of the tick, to start at `not_before` on `worker`,
    /// after the attempt before it ended `after` (failed, timed out or interrupted). Only
    /// where that attempt is recorded so (an outcome that lost to another record, say a run
    /// that succeeded, queues nothing) and the job is still on its schedule: the job's row is
    /// share-locked first, so a delete going on is waited for, and its pending retries are
    /// never left behind it. A retry already queued is left alone. Returns the retry pending
    /// for the tick, if there is one (this call's, or the one queued before).
    pub async fn queue_retry(
        &self,
        job_id: &JobId,
        scheduled_at: DateTime<Utc>,
        attempt: u16,
        after: RunStatus,
        not_before: DateTime<Utc>,
        worker: &str,
    ) -> Result<Option<PendingRetry>> {
        let mut tx = self.pool().begin().await?;
        let job: Option<(String,)> =
            sqlx::query_as("SELECT status FROM jobs WHERE id = ? LOCK IN SHARE MODE")
                .bind(job_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        // Off the schedule (finished or paused): nothing more of the job runs.
        if job.is_none_or(|(status,)| !status.parse().is_ok_and(|s: JobStatus| s.is_active())) {
            tx.rollback().await?;
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO runs (id, job_id, scheduled_at, attempt, triggered_by, status, worker_id, created_at, not_before) \
             SELECT ?, r.job_id, r.scheduled_at, ?, r.triggered_by, 'pending', ?, NOW(6), ? FROM runs r \
             WHERE r.job_id = ? AND r.scheduled_at = ? AND r.attempt = ? AND r.status = ? \
             ON DUPLICATE KEY UPDATE id = runs.id",
        )
        .bind(RunId::new().to_string())
        .bind(attempt)
        .bind(worker)
        .bind(not_before)
        .bind(job_id.to_string())
        .bind(scheduled_at)
        .bind(attempt.saturating_sub(1))
        .bind(after.as_str())
        .execute(&mut *tx)
        .await?;
        // The affected-rows count cannot tell an insert from a duplicate (found rows are
        // counted): read back what is pending for the tick.
        let rows: Vec<PendingRow> = sqlx::query_as(&format!(
            "SELECT {PENDING_COLUMNS} FROM runs WHERE job_id = ? AND scheduled_at = ? AND attempt = ? \
             AND status = 'pending'"
        ))
        .bind(job_id.to_string())
        .bind(scheduled_at)
        .bind(attempt)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(pending(rows).pop())
    }

    /// The retries of these jobs that wait their turn, whoever was to run them: what a worker
    /// taking the jobs over must schedule.
    pub async fn pending_retries(&self, jobs: &[JobId]) -> Result<Vec<PendingRetry>> {
        let mut out = Vec::new();
        for chunk in jobs.chunks(CHUNK) {
            let mut q: QueryBuilder<MySql> = QueryBuilder::new(format!(
                "SELECT {PENDING_COLUMNS} FROM runs WHERE status = 'pending' AND job_id IN ("
            ));
            let mut ids = q.separated(", ");
            for j in chunk {
                ids.push_bind(j.to_string());
            }
            q.push(")");
            out.extend(pending(q.build_query_as().fetch_all(self.pool()).await?));
        }
        Ok(out)
    }

    /// The retries waiting for this worker (by the `(status, worker_id)` index: none of the
    /// cluster's other retries are read).
    pub async fn own_pending(&self, worker_id: &str) -> Result<Vec<PendingRetry>> {
        let rows: Vec<PendingRow> = sqlx::query_as(&format!(
            "SELECT {PENDING_COLUMNS} FROM runs WHERE status = 'pending' AND worker_id = ? LIMIT 10000"
        ))
        .bind(worker_id)
        .fetch_all(self.pool())
        .await?;
        Ok(pending(rows))
    }

    /// Takes pending retries to run them, one statement each: a retry is taken by exactly one
    /// call. If MySQL fails midway, the retries taken so far are still reported taken, and the
    /// rest (the one whose answer was lost included: if it was in fact taken, it is never
    /// started, and the orphan sweep records it) are to be tried again.
    pub async fn claim_retries(&self, ids: &[RunId], by: &Claimant) -> RetryClaim {
        let mut claim = RetryClaim::default();
        let mut conn = match self.pool().acquire().await {
            Ok(c) => c,
            Err(e) => {
                claim.again = ids.to_vec();
                claim.error = Some(e.into());
                return claim;
            }
        };
        for (i, id) in ids.iter().enumerate() {
            let done = sqlx::query(
                "UPDATE runs SET status = 'running', worker_id = ?, incarnation = ?, heartbeat_at = NOW(6) \
                 WHERE id = ? AND status = 'pending'",
            )
            .bind(&by.worker_id)
            .bind(&by.incarnation)
            .bind(id.to_string())
            .execute(&mut *conn)
            .await;
            match done {
                Ok(done) if done.rows_affected() == 1 => {
                    claim.taken.insert(*id);
                }
                Ok(_) => {}
                Err(e) => {
                    claim.again = ids[i..].to_vec();
                    claim.error = Some(e.into());
                    break;
                }
            }
        }
        claim
    }

    /// Pending retries of jobs that are finished: a delete skips its job's pending retries in
    /// its own transaction, so these can only come from a write that raced it; they are
    /// accounted for the same way.
    pub async fn skip_retries_of_finished_jobs(&self) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE runs r JOIN jobs j ON j.id = r.job_id \
             SET r.status = 'skipped', r.reason = ?, r.finished_at = NOW(6) \
             WHERE r.status = 'pending' AND j.status = 'finished'",
        )
        .bind(distcron_core::run::skip::DELETED)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Retries still pending `overdue` after their time (their worker did not take them: it
    /// died, or the job moved away from it), and retries no worker was named for.
    pub async fn overdue_retries(&self, overdue: Duration) -> Result<Vec<PendingRetry>> {
        let rows: Vec<PendingRow> = sqlx::query_as(&format!(
            "SELECT {PENDING_COLUMNS} FROM runs WHERE status = 'pending' \
             AND (not_before < NOW(6) - INTERVAL ? MICROSECOND OR worker_id IS NULL) LIMIT 10000"
        ))
        .bind(overdue.as_micros() as u64)
        .fetch_all(self.pool())
        .await?;
        Ok(pending(rows))
    }

    /// Hands a pending retry to another worker.
    pub async fn point_retry(&self, id: &RunId, worker: &str) -> Result<()> {
        sqlx::query("UPDATE runs SET worker_id = ? WHERE id = ? AND status = 'pending'")
            .bind(worker)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Running runs whose lease is older than `lease` (by MySQL's clock), with their job's
    /// retry option.
    pub async fn stale_runs(&self, lease: Duration) -> Result<Vec<StaleRun>> {
        Ok(sqlx::query_as(
            "SELECT r.id, r.job_id, r.scheduled_at, r.attempt, r.worker_id, r.incarnation, j.retry_interrupted, j.schedule \
             FROM runs r JOIN jobs j ON j.id = r.job_id \
             WHERE r.status = 'running' AND r.heartbeat_at < NOW(6) - INTERVAL ? MICROSECOND",
        )
        .bind(lease.as_micros() as u64)
        .fetch_all(self.pool())
        .await?)
    }

    /// Declares a run interrupted (if it is still running) and, if asked, queues its retry as
    /// the next attempt for `owner` (the job's worker now, if known), in one transaction. A one-shot job
    /// whose run is not retried is finished in the same transaction, so that no failure
    /// between two writes leaves it on its schedule for ever. Returns whether the run was
    /// interrupted by this call.
    pub async fn interrupt_run(
        &self,
        run: &StaleRun,
        reason: &str,
        retry: bool,
        owner: Option<&str>,
    ) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE runs SET status = 'interrupted', reason = ?, finished_at = NOW(6) WHERE id = ? AND status = 'running'",
        )
        .bind(reason)
        .bind(&run.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if retry {
            sqlx::query(
                "INSERT INTO runs (id, job_id, scheduled_at, attempt, triggered_by, status, worker_id, created_at, not_before) \
                 SELECT ?, r.job_id, r.scheduled_at, ?, r.triggered_by, 'pending', ?, NOW(6), NOW(6) \
                 FROM runs r JOIN jobs j ON j.id = r.job_id \
                 WHERE r.id = ? AND j.status IN ('scheduled', 'error') \
                 ON DUPLICATE KEY UPDATE id = runs.id",
            )
            .bind(RunId::new().to_string())
            .bind(run.attempt + 1)
            .bind(owner)
            .bind(&run.id)
            .execute(&mut *tx)
            .await?;
        } else if distcron_core::Schedule::parse(&run.schedule).is_ok_and(|s| s.is_once()) {
            sqlx::query(
                "UPDATE jobs SET status = 'finished', finished_at = NOW(6), updated_at = NOW(6) \
                 WHERE id = ? AND status <> 'finished'",
            )
            .bind(&run.job_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
