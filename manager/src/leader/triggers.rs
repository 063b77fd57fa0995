//! Run now, as the leader performs it: the run is queued in MySQL (a pending row for the job's
//! owner worker, with its audit row), then the owner is nudged through `/stops/<worker>` so it
//! reads its pending runs at once rather than at its next poll. A nudge lost costs a second.

use super::Leader;
use super::writes::WriteError;
use crate::reconcile;
use distcron_core::{JobId, Run, UserName};
use distcron_store::{Trigger, Triggered};

impl Leader {
    /// Queues a run of `job` now; with an idempotency key already used for the job, answers
    /// that run instead (`false`: nothing new).
    pub async fn trigger_job(
        &self,
        job: &JobId,
        actor: &UserName,
        idempotency_key: Option<&str>,
    ) -> Result<(Run, bool), WriteError> {
        let observed = reconcile::observe_jobs(self.client(), &[*job]).await?;
        let owner = observed.owner_of(job).map(str::to_string);
        let triggered = self
            .store
            .trigger_run(&Trigger {
                job,
                actor: actor.as_str(),
                idempotency_key,
                worker: owner.as_deref(),
            })
            .await?;
        let run = match triggered {
            Triggered::NotFound => return Err(WriteError::NotFound(format!("no job {job}"))),
            Triggered::Replayed(run) => return Ok((*run, false)),
            Triggered::Queued(run) => *run,
        };
        if let Some(worker) = &owner
            && let Err(e) = self.nudge(worker).await
        {
            tracing::warn!(worker, error = %e, "cannot nudge the worker about a run to start now; it finds it within a second");
        }
        tracing::info!(job_id = %job, run_id = %run.id, actor = %actor, worker = owner.as_deref().unwrap_or("-"), "run triggered");
        Ok((run, true))
    }
}
