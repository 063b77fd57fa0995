//! The writes API servers forward to the leader. Each one changes MySQL inside a transaction,
//! publishes the change to ZooKeeper (fenced by the election znode), and only then commits:
//! if either side fails, nothing is left half-done, and the periodic resync repairs the rare
//! commit that fails after publishing.
//!
//! A write has no rules of its own for ZooKeeper: it observes just the jobs it touches (their
//! tasks and assignments, and the live workers) and applies the reconcile loop's plan of that
//! observation (`publish`). Its rollback is the plan of the old state (`roll_back`).

use super::Leader;
use crate::plan::{self, Op, Placement};
use crate::reconcile::{self, ApplyError};
use distcron_core::payload::JobTask;
use distcron_core::{Job, JobId, JobSpec, UserName};
use distcron_store::{CreateOutcome, JobTx, StoreError, User};
use distcron_zk::ZkError;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("this manager is not the leader")]
    NotLeader,
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    /// An idempotency key used before for another request.
    #[error("{0}")]
    KeyReused(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => WriteError::Unavailable(e.to_string()),
            StoreError::Conflict(m) => WriteError::Conflict(m),
            other => WriteError::Internal(other.into()),
        }
    }
}

impl From<ApplyError> for WriteError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::LostLeadership => WriteError::NotLeader,
            ApplyError::Zk(z) => z.into(),
        }
    }
}

impl From<ZkError> for WriteError {
    fn from(e: ZkError) -> Self {
        if e.is_unavailable() {
            WriteError::Unavailable(e.to_string())
        } else {
            WriteError::Internal(e.into())
        }
    }
}

/// What becomes of what a write published when its commit then fails.
pub(crate) enum OnCommitFailure {
    /// Put back what ZooKeeper held (a new job or definition that may never have been
    /// committed must not run; the resync would take it back too).
    RollBack,
    /// Leave it: a job withdrawn stays withdrawn. The commit may have gone through, and a job
    /// taken off the schedule must not run again; if it did not, the resync publishes it.
    Leave,
}

/// What a write published: the jobs it touched, as ZooKeeper held them before, and the ops.
pub(crate) struct Published {
    jobs: Vec<JobId>,
    before: BTreeMap<JobId, JobTask>,
    ops: Vec<Op>,
}

impl Published {
    /// The worker the write assigned `job` to, if it did.
    fn worker_of(&self, job: &JobId) -> Option<&str> {
        self.ops.iter().find_map(|op| match op {
            Op::Assign { worker, job: j, .. } if j == job => Some(worker.as_str()),
            _ => None,
        })
    }
}

impl Leader {
    /// Persists and publishes a new job. Replaying the same job id returns the stored job.
    /// With an idempotency key, the owner's job created with it is the answer instead, if its
    /// definition is this one (and a refusal if not).
    pub async fn create_job(
        &self,
        job: Job,
        actor: &UserName,
        idempotency_key: Option<&str>,
    ) -> Result<(Job, bool), WriteError> {
        let _shared = self.ops.read().await;
        let workers = reconcile::observe_workers(self.client()).await?;
        if let Some(why) = Placement::new(&workers).fits_nowhere(&job.spec.resources) {
            return Err(WriteError::Conflict(why));
        }
        self.check_stored(&job.spec).await?;
        // Read before the transaction: a write holds one pooled connection at a time, or
        // creates in flight beyond the pool's size wait on each other until they time out.
        let run_uid = self.store.run_uid_of(&job.owner).await?;
        let tx = match self
            .store
            .begin_create_job(&job, actor, idempotency_key)
            .await?
        {
            CreateOutcome::Exists(existing)
                if existing.owner == job.owner && self.created_as(&existing, &job).await? =>
            {
                return Ok((*existing, false));
            }
            CreateOutcome::Exists(existing) if existing.id != job.id => {
                return Err(WriteError::KeyReused(format!(
                    "Idempotency-Key `{}` was used for another request: it created job {} with another definition",
                    idempotency_key.unwrap_or_default(),
                    existing.id
                )));
            }
            CreateOutcome::Exists(_) => {
                return Err(WriteError::Conflict(format!(
                    "job {} already exists with another definition",
                    job.id
                )));
            }
            CreateOutcome::Inserted(tx) => tx,
        };
        let task = JobTask::new(&job, run_uid);
        let desired = BTreeMap::from([(job.id, task)]);
        let published = self
            .publish_and_commit(&[job.id], desired, tx, OnCommitFailure::RollBack)
            .await?;
        let worker = published.worker_of(&job.id).unwrap_or("-");
        tracing::info!(job_id = %job.id, owner = %job.owner, worker, "job created");
        Ok((job, true))
    }

    /// Whether `existing` was created with `job`'s definition: the same request replayed,
    /// even if `existing` was edited since.
    async fn created_as(&self, existing: &Job, job: &Job) -> Result<bool, WriteError> {
        Ok(match self.store.created_digest(&existing.id).await? {
            Some(digest) => digest == distcron_store::spec_digest(&job.spec),
            None => existing.spec == job.spec,
        })
    }

    /// A job that runs an uploaded file may be written only while the file is stored. Called
    /// under the shared operations lock, so the blob sweep cannot delete it before the job
    /// that names it is committed.
    pub(crate) async fn check_stored(&self, spec: &JobSpec) -> Result<(), WriteError> {
        if !spec.job_type.is_blob() {
            return Ok(());
        }
        match self.blobs.last_modified(&spec.executable).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(WriteError::Conflict(format!(
                "the uploaded file {} is no longer stored (deleted as unused); submit the job again",
                spec.executable
            ))),
            Err(e) => Err(WriteError::Unavailable(e.to_string())),
        }
    }

    /// Takes a job off the schedule: status `finished`, task and assignment removed.
    pub async fn finish_job(&self, id: &JobId, actor: &UserName) -> Result<Job, WriteError> {
        let _shared = self.ops.read().await;
        let Some((job, tx)) = self.store.begin_finish_job(id, actor).await? else {
            return Err(WriteError::NotFound(format!("no job {id}")));
        };
        let Some(tx) = tx else { return Ok(job) };
        self.publish_and_commit(&[*id], BTreeMap::new(), tx, OnCommitFailure::Leave)
            .await?;
        tracing::info!(job_id = %id, actor = %actor, "job finished");
        Ok(job)
    }

    pub async fn create_user(
        &self,
        name: &UserName,
        admin: bool,
        token_sha256: &str,
        actor: &UserName,
    ) -> Result<User, WriteError> {
        if !distcron_core::job::is_sha256_hex(token_sha256) {
            return Err(WriteError::Internal(anyhow::anyhow!(
                "token hash is not a sha256"
            )));
        }
        let user = self
            .store
            .create_user(name, admin, token_sha256, actor, self.run_uids)
            .await?;
        tracing::info!(user = %name, admin, actor = %actor, "user created");
        Ok(user)
    }

    /// The end of every job write: publishes `desired` for `jobs` (the plan of an observation
    /// of them), then commits `tx`, the write's open transaction. If publishing fails, `tx` is
    /// rolled back; if the commit fails after publishing, `on_failure` says what becomes of
    /// what was published.
    pub(crate) async fn publish_and_commit(
        &self,
        jobs: &[JobId],
        desired: BTreeMap<JobId, JobTask>,
        tx: JobTx,
        on_failure: OnCommitFailure,
    ) -> Result<Published, WriteError> {
        let published = match self.publish(jobs, desired).await {
            Ok(published) => published,
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        };
        if let Err(e) = tx.commit().await {
            if let OnCommitFailure::RollBack = on_failure {
                self.roll_back(&published).await;
            }
            return Err(e.into());
        }
        Ok(published)
    }

    /// Makes ZooKeeper hold `desired` for `jobs` (each of which is either desired or
    /// withdrawn): the reconcile plan of an observation of just those jobs, applied fenced. If
    /// applying fails, what was applied is rolled back.
    pub(crate) async fn publish(
        &self,
        jobs: &[JobId],
        desired: BTreeMap<JobId, JobTask>,
    ) -> Result<Published, WriteError> {
        let writing = self.writing.lock().await;
        let observed = reconcile::observe_jobs(self.client(), jobs).await?;
        let (ops, _) = plan::plan(&desired, &observed);
        let published = Published {
            jobs: jobs.to_vec(),
            before: observed.as_desired(),
            ops,
        };
        match self.apply(&published.ops).await {
            Ok(()) => Ok(published),
            Err(WriteError::NotLeader) => Err(WriteError::NotLeader),
            Err(e) => {
                drop(writing);
                self.roll_back(&published).await;
                Err(e)
            }
        }
    }

    /// Puts the jobs of a write back as they were: the plan of the old state, over a new
    /// observation. On failure the next resync repairs them.
    pub(crate) async fn roll_back(&self, published: &Published) {
        let _writing = self.writing.lock().await;
        let undone = async {
            let observed = reconcile::observe_jobs(self.client(), &published.jobs).await?;
            let (ops, _) = plan::plan(&published.before, &observed);
            self.apply(&ops).await
        };
        if let Err(e) = undone.await {
            tracing::warn!(jobs = ?published.jobs, error = %e, "could not roll a write back in ZooKeeper; the next resync will");
        }
    }

    /// Applies a write's plan, fenced: the jobs' own ops must all succeed (one multi-op per
    /// hundred); creating or removing a worker's directory is housekeeping the worker itself
    /// races on (it creates its own) and the resync finishes, so its failure does not count.
    async fn apply(&self, ops: &[Op]) -> Result<(), WriteError> {
        let (dirs, jobs): (Vec<Op>, Vec<Op>) = ops.iter().cloned().partition(Op::is_directory);
        let (ensure, remove): (Vec<Op>, Vec<Op>) = dirs
            .into_iter()
            .partition(|op| matches!(op, Op::EnsureWorkerDir { .. }));
        reconcile::apply(&self.lock, &ensure).await?;
        match reconcile::apply(&self.lock, &jobs).await? {
            0 => {}
            n => {
                return Err(WriteError::Internal(anyhow::anyhow!(
                    "{n} ZooKeeper operations failed"
                )));
            }
        }
        reconcile::apply(&self.lock, &remove).await?;
        Ok(())
    }
}
