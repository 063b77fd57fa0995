//! Jobs: the desired state the leader publishes to ZooKeeper.

use crate::audit::{self, AuditEntry};
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use distcron_core::{
    Job, JobId, JobOptions, JobSpec, JobStatus, JobType, Resources, Schedule, TimeZone, UserName,
};
use sqlx::{MySql, Transaction};

pub(crate) const JOB_COLUMNS: &str = "id, name, owner, status, job_type, executable, sha256, schedule, timezone, \
     timeout_seconds, privileged, run_as, version, created_at, updated_at, concurrency, misfire, retries, \
     retry_backoff_seconds, retry_interrupted, memory_mb, cpu_millis, max_processes, paused_at, resumed_at, \
     history_limit, history_from, schedule_changed_at";

#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: String,
    name: Option<String>,
    owner: String,
    status: String,
    job_type: String,
    executable: String,
    sha256: Option<String>,
    schedule: String,
    timezone: String,
    timeout_seconds: Option<u32>,
    privileged: bool,
    run_as: Option<String>,
    version: u64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    concurrency: String,
    misfire: String,
    retries: u16,
    retry_backoff_seconds: u32,
    retry_interrupted: bool,
    memory_mb: Option<u32>,
    cpu_millis: Option<u32>,
    max_processes: Option<u32>,
    paused_at: Option<DateTime<Utc>>,
    resumed_at: Option<DateTime<Utc>>,
    history_limit: Option<u32>,
    history_from: Option<DateTime<Utc>>,
    schedule_changed_at: Option<DateTime<Utc>>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;
    fn try_from(r: JobRow) -> Result<Job> {
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("job {}: {what}: {e}", r.id))
        };
        Ok(Job {
            id: r.id.parse().map_err(|e| corrupt("id", &e))?,
            owner: UserName::parse(&r.owner).map_err(|e| corrupt("owner", &e))?,
            status: r.status.parse().map_err(|e| corrupt("status", &e))?,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            paused_at: r.paused_at,
            resumed_at: r.resumed_at,
            history_from: r.history_from,
            schedule_changed_at: r.schedule_changed_at,
            spec: JobSpec {
                name: r.name.clone(),
                job_type: r
                    .job_type
                    .parse::<JobType>()
                    .map_err(|e| corrupt("type", &e))?,
                executable: r.executable.clone(),
                sha256: r.sha256.clone(),
                schedule: Schedule::parse(&r.schedule).map_err(|e| corrupt("schedule", &e))?,
                timezone: TimeZone::parse(&r.timezone).map_err(|e| corrupt("timezone", &e))?,
                timeout_seconds: r.timeout_seconds,
                privileged: r.privileged,
                run_as: r.run_as.clone(),
                options: JobOptions {
                    concurrency: r
                        .concurrency
                        .parse()
                        .map_err(|e| corrupt("concurrency", &e))?,
                    misfire: r.misfire.parse().map_err(|e| corrupt("misfire", &e))?,
                    retries: r.retries,
                    retry_backoff_seconds: r.retry_backoff_seconds,
                    retry_interrupted: r.retry_interrupted,
                    history_limit: r.history_limit,
                },
                resources: Resources {
                    memory_mb: r.memory_mb,
                    cpu_millis: r.cpu_millis,
                    max_processes: r.max_processes,
                },
            },
        })
    }
}

/// Which jobs to list, one page at a time, in id (creation) order.
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    /// Only this owner's jobs (non-admins always pass their own name).
    pub owner: Option<UserName>,
    pub status: Option<JobStatus>,
    /// Page cursor: only ids greater than this.
    pub after: Option<JobId>,
    pub limit: u32,
}

/// An open transaction holding a change to a job, so the caller can publish the change to
/// ZooKeeper before committing: if publishing fails the change is rolled back and nothing is
/// half-created.
pub struct JobTx {
    pub(crate) tx: Transaction<'static, MySql>,
}

impl JobTx {
    pub async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
    pub async fn rollback(self) -> Result<()> {
        Ok(self.tx.rollback().await?)
    }
}

/// What `begin_create_job` found.
pub enum CreateOutcome {
    /// The job is inserted in the open transaction; publish, then commit.
    Inserted(JobTx),
    /// A job with this id already exists (a retried request): here it is.
    Exists(Box<Job>),
}

impl Store {
    pub async fn get_job(&self, id: &JobId) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?");
        let row: Option<JobRow> = sqlx::query_as(&sql)
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(Job::try_from).transpose()
    }

    /// The digest of the definition job `id` was created with (`None` for a job created
    /// before digests were kept).
    pub async fn created_digest(&self, id: &JobId) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT created_spec_sha256 FROM jobs WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(self.pool())
                .await?;
        Ok(row.and_then(|(d,)| d))
    }

    /// The owner's job created with this idempotency key, if any.
    pub async fn job_of_key(&self, owner: &UserName, key: &str) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE owner = ? AND idempotency_key = ?");
        let row: Option<JobRow> = sqlx::query_as(&sql)
            .bind(owner.as_str())
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        row.map(Job::try_from).transpose()
    }

    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1=1");
        if filter.owner.is_some() {
            sql.push_str(" AND owner = ?");
        }
        if filter.status.is_some() {
            sql.push_str(" AND status = ?");
        }
        if filter.after.is_some() {
            sql.push_str(" AND id > ?");
        }
        sql.push_str(" ORDER BY id LIMIT ?");
        let mut q = sqlx::query_as::<_, JobRow>(&sql);
        if let Some(owner) = &filter.owner {
            q = q.bind(owner.as_str());
        }
        if let Some(status) = filter.status {
            q = q.bind(status.as_str());
        }
        if let Some(after) = filter.after {
            q = q.bind(after.to_string());
        }
        let rows = q.bind(filter.limit).fetch_all(self.pool()).await?;
        rows.into_iter().map(Job::try_from).collect()
    }

    /// Every job that is on the schedule: what ZooKeeper must reflect.
    pub async fn active_jobs(&self) -> Result<Vec<Job>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ('scheduled', 'error') ORDER BY id"
        );
        let rows: Vec<JobRow> = sqlx::query_as(&sql).fetch_all(self.pool()).await?;
        rows.into_iter().map(Job::try_from).collect()
    }

    /// Inserts `job` (and its audit row) in a transaction left open for the caller. A job
    /// with its id, or of its owner with its idempotency key, is answered instead.
    pub async fn begin_create_job(
        &self,
        job: &Job,
        actor: &UserName,
        idempotency_key: Option<&str>,
    ) -> Result<CreateOutcome> {
        let mut tx = self.pool().begin().await?;
        // The owner must be enabled, and stay so until this commits: disabling a user locks its
        // row for update, so it waits for this job, and then finishes it with the others.
        let owner: Option<(Option<DateTime<Utc>>,)> =
            sqlx::query_as("SELECT disabled_at FROM users WHERE name = ? LOCK IN SHARE MODE")
                .bind(job.owner.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        match owner {
            Some((None,)) => {}
            Some((Some(_),)) => {
                tx.rollback().await?;
                return Err(StoreError::Conflict(format!(
                    "user `{}` is disabled",
                    job.owner
                )));
            }
            None => {
                tx.rollback().await?;
                return Err(StoreError::Conflict(format!(
                    "user `{}` does not exist",
                    job.owner
                )));
            }
        }
        let s = &job.spec;
        let inserted = sqlx::query(
            "INSERT INTO jobs (id, name, owner, status, job_type, executable, sha256, schedule, timezone, \
             timeout_seconds, privileged, run_as, version, created_at, updated_at, concurrency, misfire, \
             retries, retry_backoff_seconds, retry_interrupted, memory_mb, cpu_millis, max_processes, \
             idempotency_key, history_limit, created_spec_sha256) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(job.id.to_string())
        .bind(&s.name)
        .bind(job.owner.as_str())
        .bind(job.status.as_str())
        .bind(s.job_type.as_str())
        .bind(&s.executable)
        .bind(&s.sha256)
        .bind(s.schedule.expression())
        .bind(s.timezone.name())
        .bind(s.timeout_seconds)
        .bind(s.privileged)
        .bind(&s.run_as)
        .bind(job.version)
        .bind(job.created_at)
        .bind(job.updated_at)
        .bind(s.options.concurrency.as_str())
        .bind(s.options.misfire.as_str())
        .bind(s.options.retries)
        .bind(s.options.retry_backoff_seconds)
        .bind(s.options.retry_interrupted)
        .bind(s.resources.memory_mb)
        .bind(s.resources.cpu_millis)
        .bind(s.resources.max_processes)
        .bind(idempotency_key)
        .bind(s.options.history_limit)
        .bind(spec_digest(s))
        .execute(&mut *tx)
        .await;
        match inserted.map_err(StoreError::from) {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                tx.rollback().await?;
                let existing = match self.get_job(&job.id).await? {
                    Some(existing) => Some(existing),
                    None => match idempotency_key {
                        Some(key) => self.job_of_key(&job.owner, key).await?,
                        None => None,
                    },
                };
                return match existing {
                    Some(existing) => Ok(CreateOutcome::Exists(Box::new(existing))),
                    None => Err(StoreError::Conflict(format!("job {} conflicts", job.id))),
                };
            }
            Err(e) => return Err(e),
        }
        audit::record(
            &mut tx,
            AuditEntry {
                at: job.created_at,
                actor: actor.as_str(),
                action: "job.create",
                object_type: "job",
                object_id: &job.id.to_string(),
                detail: serde_json::json!({
                    "type": s.job_type.as_str(),
                    "schedule": s.schedule.expression(),
                    "privileged": s.privileged,
                }),
            },
        )
        .await?;
        Ok(CreateOutcome::Inserted(JobTx { tx }))
    }

    /// Marks a job finished in a transaction left open for the caller. `None` if there is no
    /// such job; `Some((job, None))` if it was already finished (nothing to do).
    pub async fn begin_finish_job(
        &self,
        id: &JobId,
        actor: &UserName,
    ) -> Result<Option<(Job, Option<JobTx>)>> {
        let mut tx = self.pool().begin().await?;
        let Some(mut job) = lock_job(&mut tx, id).await? else {
            return Ok(None);
        };
        if job.status == JobStatus::Finished {
            tx.rollback().await?;
            return Ok(Some((job, None)));
        }
        let now = Utc::now();
        finish_in(&mut tx, &[(job.id, job.status)], now, actor, None).await?;
        job.status = JobStatus::Finished;
        job.updated_at = now;
        Ok(Some((job, Some(JobTx { tx }))))
    }
}

/// The sha256 of a definition, as its JSON: what tells a replayed create from another one.
pub fn spec_digest(spec: &JobSpec) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(serde_json::to_vec(spec).unwrap_or_default()))
}

/// Job `id`, its row locked for update in `tx` (as a delete, a pause or an edit lock it: a
/// start check waits for the change, or the change for the starts).
pub(crate) async fn lock_job(
    tx: &mut Transaction<'static, MySql>,
    id: &JobId,
) -> Result<Option<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ? FOR UPDATE");
    let row: Option<JobRow> = sqlx::query_as(&sql)
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(Job::try_from).transpose()
}

/// Takes `jobs` (id and current status, each row already locked by the caller's transaction)
/// off the schedule: `finished`, their pending retries recorded `skipped`, one audit row each.
/// `cause`, if any, goes into the audit rows' detail (say, the owner was disabled).
pub(crate) async fn finish_in(
    tx: &mut Transaction<'static, MySql>,
    jobs: &[(JobId, JobStatus)],
    now: DateTime<Utc>,
    actor: &UserName,
    cause: Option<&str>,
) -> Result<()> {
    for (id, previous) in jobs {
        sqlx::query(
            "UPDATE jobs SET status = 'finished', finished_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(now)
        .bind(now)
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
        // Retries still waiting will not run: account for them.
        sqlx::query("UPDATE runs SET status = 'skipped', reason = ?, finished_at = ? WHERE job_id = ? AND status = 'pending'")
            .bind(distcron_core::run::skip::DELETED)
            .bind(now)
            .bind(id.to_string())
            .execute(&mut **tx)
            .await?;
        let mut detail = serde_json::json!({ "previous_status": previous.as_str() });
        if let Some(cause) = cause {
            detail["cause"] = cause.into();
        }
        audit::record(
            tx,
            AuditEntry {
                at: now,
                actor: actor.as_str(),
                action: "job.finish",
                object_type: "job",
                object_id: &id.to_string(),
                detail,
            },
        )
        .await?;
    }
    Ok(())
}
