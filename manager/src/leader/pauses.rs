//! Pause and resume, as the leader performs them: the job's row changes in an open
//! transaction, its task is withdrawn from (pause) or published to (resume) ZooKeeper through
//! the reconcile plan, then the change commits. A paused job is not among the active jobs, so
//! the resync keeps it withdrawn.

use super::Leader;
use super::writes::{OnCommitFailure, WriteError};
use distcron_core::payload::JobTask;
use distcron_core::{Job, JobId, UserName};
use distcron_store::{Pause, PauseOutcome};
use std::collections::BTreeMap;

impl Leader {
    /// Pauses or resumes `id`; asking for the state the job is already in changes nothing.
    pub async fn pause_job(
        &self,
        id: &JobId,
        what: Pause,
        actor: &UserName,
    ) -> Result<Job, WriteError> {
        let _shared = self.ops.read().await;
        // Read before the transaction, as a create does: one pooled connection at a time.
        let owner = match self.store.get_job(id).await? {
            Some(job) => job.owner,
            None => return Err(WriteError::NotFound(format!("no job {id}"))),
        };
        let run_uid = match what {
            Pause::Resume => self.store.run_uid_of(&owner).await?,
            Pause::Pause => None,
        };
        let (job, tx) = match self.store.begin_pause(id, what, actor).await? {
            PauseOutcome::NotFound => return Err(WriteError::NotFound(format!("no job {id}"))),
            PauseOutcome::Unchanged(job) => return Ok(*job),
            PauseOutcome::Changed(job, tx) => (*job, tx),
        };
        let desired = match what {
            Pause::Pause => BTreeMap::new(),
            Pause::Resume => BTreeMap::from([(job.id, JobTask::new(&job, run_uid))]),
        };
        // A resume published but not committed is taken back; a pause is left withdrawn, as a
        // delete is.
        let on_failure = match what {
            Pause::Resume => OnCommitFailure::RollBack,
            Pause::Pause => OnCommitFailure::Leave,
        };
        self.publish_and_commit(&[job.id], desired, tx, on_failure)
            .await?;
        tracing::info!(job_id = %id, actor = %actor, status = %job.status, "job paused or resumed");
        Ok(job)
    }
}
