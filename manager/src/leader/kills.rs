//! Kills, as the leader performs them: the stop is recorded in MySQL first (the truth, which
//! every worker reads at its lease renewals), then each worker holding a killed run is nudged
//! through its `/stops/<worker>` znode so that it reads the kill at once. A nudge that cannot
//! be written costs only latency: the worker sees the kill at its next renewal.

use super::Leader;
use super::writes::WriteError;
use distcron_core::internal::KillAnswer;
use distcron_core::{JobId, RunId, UserName, layout};
use distcron_store::{Kills, RunKill};
use distcron_zk::zk;
use std::collections::BTreeSet;

impl Leader {
    /// Kills one run; a run that has ended is a conflict that says how it ended.
    pub async fn kill_run(&self, run: &RunId, actor: &UserName) -> Result<KillAnswer, WriteError> {
        match self.store.kill_run(run, actor.as_str()).await? {
            RunKill::NotFound => Err(WriteError::NotFound(format!("no run {run}"))),
            RunKill::Ended { status, reason } => Err(WriteError::Conflict(match reason {
                Some(why) => format!("run {run} has already ended: {status} ({why})"),
                None => format!("run {run} has already ended: {status}"),
            })),
            RunKill::UnderWay(kills) => {
                Ok(self.kills_done(kills, actor, "run", run.to_string()).await)
            }
        }
    }

    /// Kills every run of `job` under way (none is not an error: the answer lists nothing).
    pub async fn kill_job(&self, job: &JobId, actor: &UserName) -> Result<KillAnswer, WriteError> {
        let kills = self.store.kill_job_runs(job, actor.as_str()).await?;
        Ok(self.kills_done(kills, actor, "job", job.to_string()).await)
    }

    async fn kills_done(
        &self,
        kills: Kills,
        actor: &UserName,
        what: &str,
        id: String,
    ) -> KillAnswer {
        let workers: BTreeSet<&str> = kills
            .asked
            .iter()
            .filter_map(|(_, w)| w.as_deref())
            .collect();
        for worker in &workers {
            if let Err(e) = self.nudge(worker).await {
                tracing::warn!(worker, error = %e, "cannot nudge the worker about a kill; it sees it at its next lease renewal");
            }
        }
        tracing::info!(
            object = what,
            id,
            actor = %actor,
            asked = kills.asked.len(),
            already_asked = kills.already_asked.len(),
            skipped = kills.skipped.len(),
            "kill"
        );
        KillAnswer {
            asked: kills.asked.into_iter().map(|(r, _)| r).collect(),
            already_asked: kills.already_asked,
            skipped: kills.skipped,
        }
    }

    /// Changes `/stops/<worker>` (creating it the first time), which the worker watches: it
    /// reads the kills of its runs, and the runs queued for it to start now, at once.
    pub(crate) async fn nudge(&self, worker: &str) -> Result<(), zk::Error> {
        if !layout::is_valid_worker_id(worker) {
            return Ok(());
        }
        let path = layout::stops(worker);
        let client = self.client();
        match client.set_data(&path, b"kill", None).await {
            Ok(_) => Ok(()),
            Err(zk::Error::NoNode) => match client
                .create(&path, b"kill", &distcron_zk::persistent())
                .await
            {
                Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}
