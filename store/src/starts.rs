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

/// Jobs per statement.
const CHUNK: usize = 1000;

/// How long a start waits for a job row another transaction is changing (`wait` checks).
const LOCK_WAIT_SECONDS: u32 = 5;

/// Share locks on the rows of jobs about to start runs, held until `release`.
pub struct StartCheck {
    tx: Transaction<'static, MySql>,
    status: HashMap<JobId, JobStatus>,
    busy: Vec<JobId>,
}

impl StartCheck {
    /// The job's status as the lock found it; `None` for a job that is busy or has no row.
    pub fn status(&self, job: &JobId) -> Option<JobStatus> {
        self.status.get(job).copied()
    }

    /// Whether runs of the job may start (its row is locked and on the schedule).
    pub fn may_start(&self, job: &JobId) -> bool {
        self.status(job).is_some_and(|s| s.is_active())
    }

    /// Jobs whose rows another transaction was changing: not locked by this check, not to be
    /// started on its word. Check them again with `check_for_start_waiting`.
    pub fn busy(&self) -> &[JobId] {
        &self.busy
    }

    /// Lets changes to the jobs go ahead: call once the runs are started.
    pub async fn release(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}

async fn lock_rows(
    tx: &mut Transaction<'static, MySql>,
    jobs: &[JobId],
    wait: bool,
) -> Result<HashMap<JobId, JobStatus>> {
    let mut out = HashMap::with_capacity(jobs.len());
    for chunk in jobs.chunks(CHUNK) {
        // MariaDB (10.6+): a row being changed is either skipped or waited for a bounded time,
        // without touching the session's own lock wait.
        let mut q: QueryBuilder<MySql> = QueryBuilder::new(if wait {
            format!("SET STATEMENT innodb_lock_wait_timeout = {LOCK_WAIT_SECONDS} FOR ")
        } else {
            String::new()
        });
        q.push("SELECT id, status FROM jobs WHERE id IN (");
        let mut ids = q.separated(", ");
        for j in chunk {
            ids.push_bind(j.to_string());
        }
        q.push(") LOCK IN SHARE MODE");
        if !wait {
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
    /// Locks the rows of `jobs` for a start, without waiting: a row another transaction is
    /// changing right now (a delete, a status update) is left out and reported busy, so that
    /// one busy job does not hold up the others' starts.
    pub async fn check_for_start(&self, jobs: &[JobId]) -> Result<StartCheck> {
        self.start_check(jobs, false).await
    }

    /// Locks the rows of `jobs` for a start, waiting (a few seconds at most) for rows being
    /// changed: for the busy jobs of a `check_for_start`, or a single job.
    pub async fn check_for_start_waiting(&self, jobs: &[JobId]) -> Result<StartCheck> {
        self.start_check(jobs, true).await
    }

    async fn start_check(&self, jobs: &[JobId], wait: bool) -> Result<StartCheck> {
        let mut tx = self.pool().begin().await?;
        let status = lock_rows(&mut tx, jobs, wait).await?;
        let busy: Vec<JobId> = if wait {
            Vec::new()
        } else {
            jobs.iter()
                .filter(|j| !status.contains_key(j))
                .copied()
                .collect::<HashSet<_>>()
                .into_iter()
                .collect()
        };
        Ok(StartCheck { tx, status, busy })
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
