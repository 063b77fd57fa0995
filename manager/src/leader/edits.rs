//! Edits, as the leader performs them: the job's row gets its new definition (version one
//! higher) in an open transaction, the new task is published through the reconcile plan (its
//! assignment names the new version, which is how the owner worker learns of it), then the
//! change commits. The owner takes the new definition from its next tick not yet claimed;
//! nothing running is restarted. A paused job's task is published at its resume.

use super::Leader;
use super::writes::{OnCommitFailure, WriteError};
use crate::plan::{Observed, Placement};
use crate::reconcile;
use distcron_core::internal::EditJob;
use distcron_core::payload::JobTask;
use distcron_core::{Job, JobId, Resources};
use distcron_store::EditOutcome;
use std::collections::BTreeMap;

impl Leader {
    /// Gives `id` the definition of `req`; the same definition again changes nothing.
    pub async fn edit_job(&self, id: &JobId, req: &EditJob) -> Result<Job, WriteError> {
        let _shared = self.ops.read().await;
        // Reads before the transaction, as a create's: one pooled connection at a time.
        let Some(current) = self.store.get_job(id).await? else {
            return Err(WriteError::NotFound(format!("no job {id}")));
        };
        if current.spec.resources != req.spec.resources {
            let observed = reconcile::observe_jobs(self.client(), &[*id]).await?;
            if let Some(why) = unbounded(&observed, id, &req.spec.resources) {
                return Err(WriteError::Conflict(why));
            }
        }
        self.check_stored(&req.spec).await?;
        let run_uid = self.store.run_uid_of(&current.owner).await?;
        let outcome = self
            .store
            .begin_edit_job(id, req.base_version, &req.spec, &req.actor)
            .await?;
        let (job, tx) = match outcome {
            EditOutcome::NotFound => return Err(WriteError::NotFound(format!("no job {id}"))),
            EditOutcome::Unchanged(job) => return Ok(*job),
            EditOutcome::Changed(job, tx) => (*job, tx),
        };
        if !job.status.is_active() {
            tx.commit().await?;
            tracing::info!(job_id = %id, actor = %req.actor, version = job.version, "paused job edited");
            return Ok(job);
        }
        let desired = BTreeMap::from([(job.id, JobTask::new(&job, run_uid))]);
        // Not committed after all: the old definition goes back.
        self.publish_and_commit(&[job.id], desired, tx, OnCommitFailure::RollBack)
            .await?;
        tracing::info!(job_id = %id, actor = %req.actor, version = job.version, "job edited");
        Ok(job)
    }
}

/// Why the job's runs could not get `needs`, if they could not: its owner (the first live
/// worker holding it) cannot bound them so, or, with no owner, no live worker could. Jobs
/// move only away from dead workers, so an owner that cannot is a refusal, not a move.
fn unbounded(observed: &Observed, job: &JobId, needs: &Resources) -> Option<String> {
    if needs.is_empty() {
        return None;
    }
    match observed.owner_of(job) {
        Some(worker) => {
            let none = Resources::default();
            let ceilings = observed.ceilings.get(worker).unwrap_or(&none);
            needs.exceeds(ceilings).map(|why| {
                format!("job {job}'s worker {worker} cannot bound its runs so ({why}); create a new job to have it placed elsewhere")
            })
        }
        None => Placement::new(observed).fits_nowhere(needs),
    }
}
