//! The moment a claimed run starts. Right before a worker starts the runs of an instant it
//! reads their jobs' rows with a share lock and keeps the lock until the processes are
//! started: a job taken off the schedule (its row changed under an exclusive lock) is either
//! seen as such here, and its runs are not started, or its change waits until they are. So
//! once a delete has answered, nothing of the job starts any more. The start itself is
//! recorded afterwards, in the background, with the moment the process was spawned.

use crate::{Result, Store};
use chrono::{DateTime, Utc};
use distcron_core::{JobId, JobStatus, RunId};
use sqlx::{MySql, QueryBuilder, Transaction};
use std::collections::{HashMap, HashSet};

/// Jobs per statement (the launch's chunks are smaller).
const CHUNK: usize = 1000;

/// How long a start waits for a job row another transaction is changing.
const LOCK_WAIT_SECONDS: u32 = 5;

/// Share locks on the rows of jobs about to start runs, held until `release`.
pub struct StartCheck {
    tx: Transaction<'static, MySql>,
    status: HashMap<JobId, JobStatus>,
}

impl StartCheck {
    /// The job's status as the lock found it; `None` for a job with no row.
    pub fn status(&self, job: &JobId) -> Option<JobStatus> {
        self.status.get(job).copied()
    }

    /// Whether runs of the job may start.
    pub fn may_start(&self, job: &JobId) -> bool {
        self.status(job).is_some_and(|s| s.is_active())
    }

    /// Lets changes to the jobs go ahead: call once the runs are started.
    pub async fn release(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}

async fn lock_rows(
    tx: &mut Transaction<'static, MySql>,
    jobs: &[JobId],
    skip_locked: bool,
) -> Result<HashMap<JobId, JobStatus>> {
    let mut out = HashMap::with_capacity(jobs.len());
    for chunk in jobs.chunks(CHUNK) {
        let mut q: QueryBuilder<MySql> =
            QueryBuilder::new("SELECT id, status FROM jobs WHERE id IN (");
        let mut ids = q.separated(", ");
        for j in chunk {
            ids.push_bind(j.to_string());
        }
        q.push(") LOCK IN SHARE MODE");
        if skip_locked {
            q.push(" SKIP LOCKED");
        }
        let rows: Vec<(String, String)> = q.build_query_as().fetch_all(&mut **tx).await?;
        for (id, status) in rows {
            if let (Ok(id), Ok(status)) = (id.parse(), status.parse()) {
                out.insert(id, status);
            }
        }
    }
    Ok(out)
}

impl Store {
    /// Locks the rows of `jobs` for a start. Rows being changed right now (a delete, a status
    /// update) are not waited for in the first pass, so one busy job does not hold up the
    /// others: they are read again, waiting for their lock, in a second pass.
    pub async fn check_for_start(&self, jobs: &[JobId]) -> Result<StartCheck> {
        let mut tx = self.pool().begin().await?;
        let mut status = lock_rows(&mut tx, jobs, true).await?;
        let busy: Vec<JobId> = jobs
            .iter()
            .filter(|j| !status.contains_key(j))
            .copied()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !busy.is_empty() {
            let wait = format!("SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_SECONDS}");
            sqlx::query(&wait).execute(&mut *tx).await?;
            status.extend(lock_rows(&mut tx, &busy, false).await?);
        }
        Ok(StartCheck { tx, status })
    }

    /// Records when runs' processes started. Only rows still `running` and without a start
    /// take it: a start is never written over an outcome (which carries its start itself).
    pub async fn mark_started(&self, starts: &[(RunId, DateTime<Utc>)]) -> Result<()> {
        for chunk in starts.chunks(250) {
            let mut q: QueryBuilder<MySql> =
                QueryBuilder::new("UPDATE runs SET started_at = CASE id");
            for (id, at) in chunk {
                q.push(" WHEN ")
                    .push_bind(id.to_string())
                    .push(" THEN ")
                    .push_bind(*at);
            }
            q.push(" END WHERE status = 'running' AND started_at IS NULL AND id IN (");
            let mut ids = q.separated(", ");
            for (id, _) in chunk {
                ids.push_bind(id.to_string());
            }
            q.push(")");
            q.build().execute(self.pool()).await?;
        }
        Ok(())
    }
}
