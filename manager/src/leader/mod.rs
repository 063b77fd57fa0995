//! Leadership: the state of a manager that leads, its full resync, and its writes
//! (`writes.rs`, `revocation.rs`, `kills.rs`); the election loop that makes it lead is `election.rs`. The
//! leader is the only writer of tasks and assignments, and of jobs but for one column: it
//! creates jobs and ends their lives (finished by a delete or a disabled owner). What a job's
//! runs say about it (`scheduled` ⇄ `error` by its last outcome, and an `@once` job
//! `finished` by its one run) is written by the worker that recorded the outcome, in
//! `Store::apply_job_status`, whose conditional updates never bring a finished job back.

pub mod drains;
pub mod edits;
pub mod election;
pub mod kills;
pub mod pauses;
pub mod revocation;
pub mod triggers;
pub mod writes;

use crate::plan::{self, Op};
use crate::reconcile::{self, ApplyError};
use anyhow::Context;
use distcron_core::payload::JobTask;
use distcron_core::{JobId, UidRange, UserName};
use distcron_store::Store;
use distcron_zk::zk::{Client, OwnedLockClient};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The lock between the leader's operations: creates and finishes share it; a full resync (or
/// a blob sweep batch) takes it alone, so its view of MySQL and ZooKeeper is not changed under
/// it.
pub type OpsLock = tokio::sync::RwLock<()>;

/// The state of a manager that currently leads.
pub struct Leader {
    pub(crate) lock: OwnedLockClient,
    pub(crate) store: Store,
    pub(crate) ops: OpsLock,
    /// One write's ZooKeeper change at a time: each write observes ZooKeeper after the last
    /// one's change, so two creates never both see the same worker as the least loaded.
    /// Taken only around ZooKeeper calls, never while waiting on MySQL.
    pub(crate) writing: tokio::sync::Mutex<()>,
    /// The uids new users' runs get.
    pub(crate) run_uids: UidRange,
    /// The user whose token the bootstrap file sets at every leadership (`admin`), if this
    /// manager has one: its token is not rotated, nor the user disabled, through the API,
    /// since the next leader would undo either.
    pub(crate) bootstrap_admin: Option<UserName>,
    /// Where uploads are: a new job's must be there (see `sweep`).
    pub(crate) blobs: distcron_blob::BlobStore,
    /// Wakes the reconcile loop for a pass now (after a drain, whose handoffs settle sooner
    /// than the resync interval).
    pub(crate) look_again: tokio::sync::Notify,
}

impl Leader {
    pub fn client(&self) -> &Client {
        self.lock.client()
    }

    /// Re-reads MySQL and ZooKeeper in full and repairs every difference; says when the next
    /// look is due sooner than the resync interval (a handoff settles).
    pub async fn resync(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, ResyncError> {
        let _exclusive = self.ops.write().await;
        let started = std::time::Instant::now();
        let uids = self.store.run_uids().await.context("reading run uids")?;
        let desired: BTreeMap<JobId, JobTask> = self
            .store
            .active_jobs()
            .await
            .context("reading active jobs")?
            .iter()
            .map(|j| (j.id, JobTask::new(j, uids.get(&j.owner).copied())))
            .collect();
        let observed = reconcile::observe(self.client())
            .await
            .context("reading ZooKeeper")?;
        let (ops, _) = plan::plan(&desired, &observed);
        let failed = match reconcile::apply(&self.lock, &ops).await {
            Ok(failed) => failed,
            Err(ApplyError::LostLeadership) => return Err(ResyncError::LostLeadership),
            Err(e) => {
                return Err(anyhow::Error::from(e)
                    .context("applying the reconcile plan")
                    .into());
            }
        };
        let moved = ops
            .iter()
            .filter(|op| matches!(op, Op::Assign { from: Some(_), .. }))
            .count();
        let handed_off = ops
            .iter()
            .filter(|op| matches!(op, Op::Handoff { .. }))
            .count();
        tracing::info!(
            jobs = desired.len(),
            workers = observed.live.len(),
            operations = ops.len(),
            moved,
            handed_off,
            drained = observed.drained.len(),
            failed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "resync done"
        );
        Ok(plan::next_settle(&observed, &ops))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResyncError {
    #[error("leadership lost")]
    LostLeadership,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Where the current leadership, if any, is published to the HTTP handlers. Cleared the
/// moment the session is in doubt, so this manager stops acting as leader at once.
#[derive(Clone, Default)]
pub struct LeaderSlot(Arc<RwLock<Option<Arc<Leader>>>>);

impl LeaderSlot {
    pub fn get(&self) -> Option<Arc<Leader>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn set(&self, leader: Option<Arc<Leader>>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = leader;
    }
}
