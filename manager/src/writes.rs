//! The writes API servers forward to the leader. Each one changes MySQL inside a transaction,
//! publishes the change to ZooKeeper (fenced by the election znode), and only then commits:
//! if either side fails, nothing is left half-done, and the periodic resync repairs the rare
//! commit that fails after publishing.

use crate::leader::Leader;
use crate::plan::Op;
use crate::reconcile::{self, ApplyError};
use distcron_core::payload::{self, JobTask};
use distcron_core::{Job, JobId, UserName, layout};
use distcron_store::{CreateOutcome, StoreError, User};
use distcron_zk::ZkError;

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

impl Leader {
    /// Persists and publishes a new job. Replaying the same job id returns the stored job.
    pub async fn create_job(&self, job: Job, actor: &UserName) -> Result<(Job, bool), WriteError> {
        let _shared = self.ops.read().await;
        let nowhere = self
            .placement
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fits_nowhere(&job.spec.resources);
        if let Some(why) = nowhere {
            return Err(WriteError::Conflict(why));
        }
        if job.spec.job_type.is_blob() {
            // Under the shared lock, so the blob sweep cannot delete it before the job exists.
            match self.blobs.last_modified(&job.spec.executable).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(WriteError::Conflict(format!(
                        "the uploaded file {} is no longer stored (deleted as unused); submit the job again",
                        job.spec.executable
                    )));
                }
                Err(e) => return Err(WriteError::Unavailable(e.to_string())),
            }
        }
        let tx = match self.store.begin_create_job(&job, actor).await? {
            CreateOutcome::Exists(existing)
                if existing.spec == job.spec && existing.owner == job.owner =>
            {
                return Ok((*existing, false));
            }
            CreateOutcome::Exists(_) => {
                return Err(WriteError::Conflict(format!(
                    "job {} already exists with another definition",
                    job.id
                )));
            }
            CreateOutcome::Inserted(tx) => tx,
        };
        let run_uid = self.store.run_uid_of(&job.owner).await?;
        let task = JobTask::new(&job, run_uid);
        let worker = self
            .placement
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .place(job.id, &job.spec.resources);
        let mut ops = vec![Op::PutTask {
            job: job.id,
            data: payload::encode(&task),
            exists: false,
        }];
        if let Some(worker) = &worker {
            ops.push(Op::Assign {
                worker: worker.clone(),
                job: job.id,
                version: job.version,
                from: None,
            });
        }
        if let Err(e) = self.publish(&ops).await {
            self.forget(&job.id);
            let _ = tx.rollback().await;
            return Err(e);
        }
        if let Err(e) = tx.commit().await {
            // Published but not committed: take the task back (the resync would, too).
            self.unpublish(&job.id, worker.as_deref()).await;
            self.forget(&job.id);
            return Err(e.into());
        }
        tracing::info!(job_id = %job.id, owner = %job.owner, worker = worker.as_deref().unwrap_or("-"), "job created");
        Ok((job, true))
    }

    /// Takes a job off the schedule: status `finished`, task and assignment removed.
    pub async fn finish_job(&self, id: &JobId, actor: &UserName) -> Result<Job, WriteError> {
        let _shared = self.ops.read().await;
        let Some((job, tx)) = self.store.begin_finish_job(id, actor).await? else {
            return Err(WriteError::NotFound(format!("no job {id}")));
        };
        let Some(tx) = tx else { return Ok(job) };
        let worker = self.owner_of(id);
        if let Err(e) = self.unpublish_strict(id, worker.as_deref()).await {
            let _ = tx.rollback().await;
            return Err(e);
        }
        tx.commit().await?;
        self.forget(id);
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

    pub(crate) async fn publish(&self, ops: &[Op]) -> Result<(), WriteError> {
        // A new worker's directory may not exist yet; creating it is harmless if it does.
        for op in ops {
            if let Op::Assign { worker, .. } = op {
                match self
                    .client()
                    .create(
                        &layout::assignment_dir(worker),
                        &[],
                        &distcron_zk::persistent(),
                    )
                    .await
                {
                    Ok(_) | Err(distcron_zk::zk::Error::NodeExists) => {}
                    Err(e) => return Err(ZkError::from(e).into()),
                }
            }
        }
        match reconcile::apply(&self.lock, ops).await? {
            0 => Ok(()),
            n => Err(WriteError::Internal(anyhow::anyhow!(
                "{n} ZooKeeper operations failed"
            ))),
        }
    }

    /// Removes a job's task and assignment, tolerating either being absent already.
    async fn unpublish_strict(&self, id: &JobId, worker: Option<&str>) -> Result<(), WriteError> {
        let mut ops = Vec::new();
        if let Some(w) = worker {
            ops.push(Op::Unassign {
                worker: w.to_string(),
                job: *id,
            });
        }
        ops.push(Op::DeleteTask { job: *id });
        // `apply` retries a failed batch op by op and only counts ops that failed, which
        // here means "already gone": the state we want.
        reconcile::apply(&self.lock, &ops).await?;
        // An assignment the placement did not know about (a stale cache) would keep the job
        // scheduled: look for one.
        let observed_owner = self.find_assignment(id).await?;
        if let Some(w) = observed_owner {
            reconcile::apply(
                &self.lock,
                &[Op::Unassign {
                    worker: w,
                    job: *id,
                }],
            )
            .await?;
        }
        Ok(())
    }

    async fn unpublish(&self, id: &JobId, worker: Option<&str>) {
        if let Err(e) = self.unpublish_strict(id, worker).await {
            tracing::warn!(job_id = %id, error = %e, "could not withdraw a job's task; the next resync will");
        }
    }

    async fn find_assignment(&self, id: &JobId) -> Result<Option<String>, ZkError> {
        for worker in self.client().list_children(layout::ASSIGNMENTS).await? {
            if self
                .client()
                .check_stat(&layout::assignment(&worker, id))
                .await?
                .is_some()
            {
                return Ok(Some(worker));
            }
        }
        Ok(None)
    }

    pub(crate) fn forget(&self, id: &JobId) {
        self.placement
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}
