//! Runs: the fence against running a scheduled time twice (the unique key on job, time and
//! attempt), the lease that tells a live run from an interrupted one, retries waiting their
//! turn, and outcomes. Workers write in batches: one statement per instant, not per job.

use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use distcron_core::{JobId, NewRun, Outcome, Output, OutputChunk, Run, RunId, RunStatus};
use sqlx::{MySql, QueryBuilder};
use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Rows per multi-row statement: far below MySQL's packet limit.
const CHUNK: usize = 1000;

/// A scheduled time of a job, and the attempt: what the unique key of `runs` is made of.
pub type Tick = (JobId, DateTime<Utc>, u16);

/// Who claims runs: the worker and which life of it.
#[derive(Clone, Debug)]
pub struct Claimant {
    pub worker_id: String,
    pub incarnation: String,
}

/// What becomes of a job after a run's final outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatusChange {
    /// The run succeeded: `error` goes back to `scheduled`.
    Succeeded,
    /// The run failed: `scheduled` becomes `error`.
    Failed,
    /// A one-shot job is done: `finished`.
    Finished,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    id: String,
    job_id: String,
    scheduled_at: DateTime<Utc>,
    attempt: u16,
    triggered_by: Option<String>,
    status: String,
    reason: Option<String>,
    worker_id: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    exit_code: Option<i32>,
    term_signal: Option<i32>,
}

pub(crate) const RUN_COLUMNS: &str = "id, job_id, scheduled_at, attempt, triggered_by, status, reason, worker_id, created_at, \
     started_at, finished_at, exit_code, term_signal";

impl TryFrom<RunRow> for Run {
    type Error = StoreError;
    fn try_from(r: RunRow) -> Result<Run> {
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("run {}: {what}: {e}", r.id))
        };
        Ok(Run {
            id: r.id.parse().map_err(|e| corrupt("id", &e))?,
            job_id: r.job_id.parse().map_err(|e| corrupt("job_id", &e))?,
            scheduled_at: r.scheduled_at,
            attempt: r.attempt,
            triggered_by: r.triggered_by,
            status: r.status.parse().map_err(|e| corrupt("status", &e))?,
            reason: r.reason,
            worker_id: r.worker_id,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            exit_code: r.exit_code,
            signal: r.term_signal,
        })
    }
}

pub(crate) fn truncate_reason(reason: Option<&str>) -> Option<String> {
    reason.map(|r| r.chars().take(1000).collect())
}

impl Store {
    /// Writes the rows for ticks about to run or be skipped, in one statement per chunk, and
    /// reports which of these ticks belong to this claimant, with the row's id and status. A
    /// tick whose row another process wrote is not in the answer: that process owns it. A tick
    /// this claimant wrote earlier (say, in an attempt whose answer was lost) is, with the
    /// earlier row's id and status, so no row of its own is ever left behind.
    pub async fn claim_runs(
        &self,
        rows: &[NewRun],
        by: &Claimant,
    ) -> Result<HashMap<Tick, (RunId, RunStatus)>> {
        let mut owned = HashMap::with_capacity(rows.len());
        // One connection for the write and the read: a claim never waits twice for the pool.
        let mut conn = self.pool().acquire().await?;
        for chunk in rows.chunks(CHUNK) {
            let mut q: QueryBuilder<MySql> = QueryBuilder::new(
                "INSERT INTO runs (id, job_id, scheduled_at, attempt, worker_id, incarnation, status, reason, \
                 created_at, heartbeat_at, finished_at) ",
            );
            q.push_values(chunk, |mut b, r| {
                let finished = r.status.is_final();
                b.push_bind(r.id.to_string())
                    .push_bind(r.job_id.to_string())
                    .push_bind(r.scheduled_at)
                    .push_bind(r.attempt)
                    .push_bind(&by.worker_id)
                    .push_bind(&by.incarnation)
                    .push_bind(r.status.as_str())
                    .push_bind(truncate_reason(r.reason.as_deref()))
                    .push("NOW(6)")
                    .push("NOW(6)")
                    .push(if finished { "NOW(6)" } else { "NULL" });
            });
            // A duplicate (job, time, attempt) keeps the existing row untouched.
            q.push(" ON DUPLICATE KEY UPDATE id = id");
            q.build().execute(&mut *conn).await?;

            // Which of these ticks are this claimant's: by the unique key's range, per job.
            let (Some(from), Some(to)) = (
                chunk.iter().map(|r| r.scheduled_at).min(),
                chunk.iter().map(|r| r.scheduled_at).max(),
            ) else {
                continue;
            };
            let wanted: HashSet<Tick> = chunk
                .iter()
                .map(|r| (r.job_id, r.scheduled_at, r.attempt))
                .collect();
            let mut check: QueryBuilder<MySql> = QueryBuilder::new(
                "SELECT id, job_id, scheduled_at, attempt, status FROM runs WHERE job_id IN (",
            );
            let mut ids = check.separated(", ");
            for job in chunk.iter().map(|r| r.job_id).collect::<HashSet<_>>() {
                ids.push_bind(job.to_string());
            }
            check
                .push(") AND scheduled_at BETWEEN ")
                .push_bind(from)
                .push(" AND ")
                .push_bind(to);
            check.push(" AND worker_id = ").push_bind(&by.worker_id);
            check.push(" AND incarnation = ").push_bind(&by.incarnation);
            let found: Vec<(String, String, DateTime<Utc>, u16, String)> =
                check.build_query_as().fetch_all(&mut *conn).await?;
            for (id, job, at, attempt, status) in found {
                let (Ok(id), Ok(job), Ok(status)) = (id.parse(), job.parse(), status.parse())
                else {
                    continue;
                };
                let tick = (job, at, attempt);
                if wanted.contains(&tick) {
                    owned.insert(tick, (id, status));
                }
            }
        }
        Ok(owned)
    }

    /// This claimant's runs that MySQL has as `running` and that were claimed at least
    /// `older_than` ago, with their scheduled time.
    pub async fn own_running(
        &self,
        by: &Claimant,
        older_than: Duration,
    ) -> Result<Vec<(RunId, JobId, DateTime<Utc>, u16)>> {
        let rows: Vec<(String, String, DateTime<Utc>, u16)> = sqlx::query_as(
            "SELECT id, job_id, scheduled_at, attempt FROM runs WHERE status = 'running' AND worker_id = ? \
             AND incarnation = ? AND created_at < NOW(6) - INTERVAL ? MICROSECOND",
        )
        .bind(&by.worker_id)
        .bind(&by.incarnation)
        .bind(older_than.as_micros() as u64)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, job, at, attempt)| {
                Some((id.parse().ok()?, job.parse().ok()?, at, attempt))
            })
            .collect())
    }

    /// The latest scheduled time recorded for each job: everything up to it is accounted for.
    /// Runs asked for outside the schedule do not count: they say nothing of its ticks.
    pub async fn last_accounted(&self, jobs: &[JobId]) -> Result<HashMap<JobId, DateTime<Utc>>> {
        let mut out = HashMap::with_capacity(jobs.len());
        for chunk in jobs.chunks(CHUNK) {
            let mut q: QueryBuilder<MySql> = QueryBuilder::new(
                "SELECT job_id, MAX(scheduled_at) FROM runs WHERE triggered_by IS NULL AND job_id IN (",
            );
            let mut ids = q.separated(", ");
            for j in chunk {
                ids.push_bind(j.to_string());
            }
            q.push(") GROUP BY job_id");
            let rows: Vec<(String, DateTime<Utc>)> =
                q.build_query_as().fetch_all(self.pool()).await?;
            for (job, at) in rows {
                if let Ok(id) = job.parse() {
                    out.insert(id, at);
                }
            }
        }
        Ok(out)
    }

    /// Runs of these jobs that are running right now, anywhere.
    pub async fn running_runs(&self, jobs: &[JobId]) -> Result<Vec<Run>> {
        let mut out = Vec::new();
        for chunk in jobs.chunks(CHUNK) {
            let mut q: QueryBuilder<MySql> = QueryBuilder::new(format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running' AND job_id IN ("
            ));
            let mut ids = q.separated(", ");
            for j in chunk {
                ids.push_bind(j.to_string());
            }
            q.push(")");
            let rows: Vec<RunRow> = q.build_query_as().fetch_all(self.pool()).await?;
            for r in rows {
                out.push(Run::try_from(r)?);
            }
        }
        Ok(out)
    }

    /// Renews the lease of every run this worker life holds. Returns how many it renewed.
    pub async fn renew_leases(&self, by: &Claimant) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE runs SET heartbeat_at = NOW(6) WHERE status = 'running' AND worker_id = ? AND incarnation = ?",
        )
        .bind(&by.worker_id)
        .bind(&by.incarnation)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// The stops asked of this worker life's running runs (`runs.stop_reason`): run id and
    /// reason. Its own rows of the `(status, worker_id)` index, read right after the lease
    /// renewal touched them.
    pub async fn stops_requested(&self, by: &Claimant) -> Result<Vec<(RunId, String)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, stop_reason FROM runs WHERE status = 'running' AND worker_id = ? \
             AND incarnation = ? AND stop_reason IS NOT NULL",
        )
        .bind(&by.worker_id)
        .bind(&by.incarnation)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(id, reason)| {
                let id = id
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("run {id}: {e}")))?;
                Ok((id, reason))
            })
            .collect()
    }

    /// Records final outcomes. An outcome applies only to a run still `running`: if the run was
    /// meanwhile declared interrupted, that record stands. The output not yet written is kept
    /// either way, in the same transaction: nobody sees a run ended without all its output.
    pub async fn record_outcomes<O: Borrow<Outcome> + Sync>(&self, outcomes: &[O]) -> Result<()> {
        for chunk in outcomes.chunks(CHUNK) {
            let mut tx = self.pool().begin().await?;
            let mut q: QueryBuilder<MySql> = QueryBuilder::new(
                "INSERT INTO runs (id, job_id, scheduled_at, attempt, status, reason, created_at, started_at, \
                 finished_at, exit_code, term_signal) ",
            );
            q.push_values(chunk, |mut b, o| {
                let o = o.borrow();
                b.push_bind(o.id.to_string())
                    .push_bind(o.job_id.to_string())
                    .push_bind(o.scheduled_at)
                    .push_bind(o.attempt)
                    .push_bind(o.end.status.as_str())
                    .push_bind(truncate_reason(o.end.reason.as_deref()))
                    .push("NOW(6)")
                    .push_bind(o.end.started_at)
                    .push_bind(o.end.finished_at)
                    .push_bind(o.end.exit_code)
                    .push_bind(o.end.signal);
            });
            // Assignments run left to right and see earlier ones, so `status` goes last.
            q.push(
                " ON DUPLICATE KEY UPDATE \
                 reason = IF(runs.status = 'running', VALUES(reason), runs.reason), \
                 started_at = IF(runs.status = 'running', VALUES(started_at), runs.started_at), \
                 finished_at = IF(runs.status = 'running', VALUES(finished_at), runs.finished_at), \
                 exit_code = IF(runs.status = 'running', VALUES(exit_code), runs.exit_code), \
                 term_signal = IF(runs.status = 'running', VALUES(term_signal), runs.term_signal), \
                 status = IF(runs.status = 'running', VALUES(status), runs.status)",
            );
            q.build().execute(&mut *tx).await?;

            let output: Vec<(RunId, &OutputChunk)> = chunk
                .iter()
                .flat_map(|o| {
                    let o = o.borrow();
                    o.end.output.iter().map(move |c| (o.id, c))
                })
                .collect();
            crate::output::insert_chunks(&mut tx, &output).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Applies the job status rules after final outcomes. A `finished` job stays finished.
    /// This and the leader's lifecycle writes are the only writers of `jobs.status`: the
    /// workers' recorders call this, the leader never does (see `manager/src/leader`).
    pub async fn apply_job_status(&self, changes: &[(JobId, JobStatusChange)]) -> Result<()> {
        let groups = [
            (
                JobStatusChange::Succeeded,
                "UPDATE jobs SET status = 'scheduled', updated_at = NOW(6) WHERE status = 'error' AND id IN (",
            ),
            (
                JobStatusChange::Failed,
                "UPDATE jobs SET status = 'error', updated_at = NOW(6) WHERE status = 'scheduled' AND id IN (",
            ),
            (
                JobStatusChange::Finished,
                "UPDATE jobs SET status = 'finished', finished_at = NOW(6), updated_at = NOW(6) WHERE status <> 'finished' AND id IN (",
            ),
        ];
        for (kind, sql) in groups {
            let ids: Vec<String> = changes
                .iter()
                .filter(|(_, c)| *c == kind)
                .map(|(j, _)| j.to_string())
                .collect();
            for chunk in ids.chunks(CHUNK) {
                let mut q: QueryBuilder<MySql> = QueryBuilder::new(sql);
                let mut sep = q.separated(", ");
                for id in chunk {
                    sep.push_bind(id);
                }
                q.push(")");
                q.build().execute(self.pool()).await?;
            }
        }
        Ok(())
    }

    /// The job's runs, newest first, `limit` at a time; `before` is the previous page's last
    /// (scheduled_at, attempt).
    pub async fn list_runs(
        &self,
        job: &JobId,
        before: Option<(DateTime<Utc>, u16)>,
        limit: u32,
    ) -> Result<Vec<Run>> {
        let mut q: QueryBuilder<MySql> =
            QueryBuilder::new(format!("SELECT {RUN_COLUMNS} FROM runs WHERE job_id = "));
        q.push_bind(job.to_string());
        if let Some((at, attempt)) = before {
            q.push(" AND (scheduled_at < ").push_bind(at);
            q.push(" OR (scheduled_at = ")
                .push_bind(at)
                .push(" AND attempt < ")
                .push_bind(attempt)
                .push("))");
        }
        q.push(" ORDER BY scheduled_at DESC, attempt DESC LIMIT ")
            .push_bind(limit);
        let rows: Vec<RunRow> = q.build_query_as().fetch_all(self.pool()).await?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// One run.
    pub async fn run(&self, id: &RunId) -> Result<Option<Run>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?");
        let row = sqlx::query_as::<_, RunRow>(&sql)
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(Run::try_from).transpose()
    }

    /// One run and its output.
    pub async fn get_run(&self, id: &RunId) -> Result<Option<(Run, Option<Output>)>> {
        let Some(run) = self.run(id).await? else {
            return Ok(None);
        };
        let output = self.shown_output(&run).await?;
        Ok(Some((run, output)))
    }

    /// MySQL's clock, to compare with the local one.
    pub async fn server_now(&self) -> Result<DateTime<Utc>> {
        let (now,): (DateTime<Utc>,) = sqlx::query_as("SELECT UTC_TIMESTAMP(6)")
            .fetch_one(self.pool())
            .await?;
        Ok(now)
    }
}
