//! Drains, as the leader performs them: `/drains/<worker>` names the worker's current
//! incarnation (a restart ends the drain), written with its audit row in one open MySQL
//! transaction, committed once ZooKeeper has it; then a resync hands the worker's jobs to the
//! others (`plan/handoff.rs`) before the answer goes back.

use super::Leader;
use super::writes::WriteError;
use crate::plan::Op;
use crate::reconcile;
use chrono::Utc;
use distcron_core::internal::DrainAnswer;
use distcron_core::payload::{self, Drain};
use distcron_core::{UserName, layout};

impl Leader {
    /// Drains (`drain`) or undrains `worker`, a live one. Again: nothing changes.
    pub async fn drain_worker(
        &self,
        worker: &str,
        drain: bool,
        actor: &UserName,
    ) -> Result<DrainAnswer, WriteError> {
        let not_found = || WriteError::NotFound(format!("no live worker {worker}"));
        if !layout::is_valid_worker_id(worker) {
            return Err(not_found());
        }
        let changed = {
            // As a write: no resync (which removes drains that no longer apply) runs
            // meanwhile, and one drain at a time.
            let _shared = self.ops.read().await;
            let _one = self.writing.lock().await;
            self.change_drain(worker, drain, actor).await?
        };
        if changed {
            match self.resync().await {
                // The loop's next pass times the settling of these handoffs.
                Ok(_) => self.look_again.notify_one(),
                Err(super::ResyncError::LostLeadership) => return Err(WriteError::NotLeader),
                // Recorded: the next resync hands the jobs off.
                Err(e) => tracing::warn!(
                    worker,
                    error = format!("{e:#}"),
                    "the drain is recorded; its handoffs wait for the next resync"
                ),
            }
        }
        let jobs = reconcile::holders(self.client())
            .await?
            .get(worker)
            .map_or(0, Vec::len);
        Ok(DrainAnswer {
            worker: worker.to_string(),
            drained: drain,
            jobs,
        })
    }

    /// Writes or removes the drain if it is not so already; says whether it changed it.
    async fn change_drain(
        &self,
        worker: &str,
        drain: bool,
        actor: &UserName,
    ) -> Result<bool, WriteError> {
        let not_found = || WriteError::NotFound(format!("no live worker {worker}"));
        let registrations = reconcile::registrations(self.client()).await?;
        let registration = registrations
            .get(worker)
            .cloned()
            .flatten()
            .ok_or_else(not_found)?;
        let current = reconcile::drains(self.client()).await?.remove(worker);
        let in_effect = current
            .as_ref()
            .and_then(Option::as_ref)
            .is_some_and(|d| d.incarnation == registration.incarnation);
        if drain == in_effect {
            return Ok(false);
        }
        if drain {
            // Someone must be left to run the jobs.
            let drains = reconcile::drains(self.client()).await?;
            let others = registrations.iter().any(|(w, r)| {
                w != worker
                    && r.as_ref().is_some_and(|r| {
                        !drains.get(w).is_some_and(|d| {
                            d.as_ref().is_some_and(|d| d.incarnation == r.incarnation)
                        })
                    })
            });
            if !others {
                return Err(WriteError::Conflict(format!(
                    "{worker} is the last live worker that is not drained: its jobs would have nowhere to go"
                )));
            }
        }
        {
            let mut ops = Vec::new();
            if current.is_some() {
                ops.push(Op::RemoveDrain {
                    worker: worker.into(),
                });
            }
            if drain {
                let d = Drain {
                    incarnation: registration.incarnation,
                    by: actor.to_string(),
                    at: Utc::now(),
                };
                ops.push(Op::PutDrain {
                    worker: worker.into(),
                    data: payload::encode(&d),
                });
            }
            let action = if drain {
                "worker.drain"
            } else {
                "worker.undrain"
            };
            let detail = serde_json::json!({ "incarnation": registration.incarnation });
            let tx = self
                .store
                .begin_audited(actor.as_str(), action, "worker", worker, detail)
                .await?;
            match reconcile::apply(&self.lock, &ops).await? {
                0 => {}
                n => {
                    return Err(WriteError::Internal(anyhow::anyhow!(
                        "{n} ZooKeeper operations of the drain failed"
                    )));
                }
            }
            tx.commit()
                .await
                .map_err(distcron_store::StoreError::from)?;
            tracing::info!(worker, actor = %actor, drain, "worker drain changed");
        }
        Ok(true)
    }
}
