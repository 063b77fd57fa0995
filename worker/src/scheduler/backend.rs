//! What the scheduler asks of the outside world, behind one trait so that its queue and loop
//! run in unit tests without MySQL or S3 (a fake backend, `tests.rs`): reading where adopted
//! jobs stand, re-reading runs still running elsewhere, fetching an executable ahead of its
//! first run, and launching decided ticks and due retries (`crate::launch`: claim the rows,
//! then start the runs at their instant).

use super::Adoption;
use super::standing::{self, foreign_runs};
use crate::cache::BlobCache;
use crate::inflight::Hold;
use crate::launch::{DueRetry, Launcher, Planned, Report};
use distcron_core::payload::JobTask;
use distcron_core::{JobId, RunId};
use distcron_store::Store;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;

/// Runs of jobs on other workers, by job.
pub type Foreign = HashMap<JobId, Vec<RunId>>;

pub trait Backend: Send + Sync + 'static {
    /// Where these jobs' ticks stand: their latest tick accounted for, runs elsewhere, retries.
    fn read_adoptions(&self, jobs: Vec<JobId>)
    -> BoxFuture<'static, Result<Vec<Adoption>, String>>;
    /// Which runs of these jobs still run on other workers.
    fn running_elsewhere(&self, jobs: Vec<JobId>) -> BoxFuture<'static, Result<Foreign, String>>;
    /// Downloads a job's executable ahead of its first run.
    fn prefetch(&self, task: Arc<JobTask>) -> BoxFuture<'static, ()>;
    /// Claims the rows of decided ticks (held by `hold`) and starts each claimed run at its tick.
    fn launch(&self, planned: Vec<Planned>, hold: Hold) -> BoxFuture<'static, Report>;
    /// Claims due retries (and manual runs) and starts those this worker took.
    fn launch_retries(&self, due: Vec<DueRetry>, hold: Hold) -> BoxFuture<'static, Report>;
}

/// The real thing: MySQL, the executable cache and the launcher.
pub struct Live {
    pub store: Store,
    pub cache: Arc<BlobCache>,
    pub launcher: Arc<Launcher>,
}

impl Backend for Live {
    fn read_adoptions(
        &self,
        jobs: Vec<JobId>,
    ) -> BoxFuture<'static, Result<Vec<Adoption>, String>> {
        let store = self.store.clone();
        let me = self.launcher.claimant.worker_id.clone();
        Box::pin(async move {
            standing::read(&store, &me, &jobs)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn running_elsewhere(&self, jobs: Vec<JobId>) -> BoxFuture<'static, Result<Foreign, String>> {
        let store = self.store.clone();
        let me = self.launcher.claimant.worker_id.clone();
        Box::pin(async move {
            let running = store.running_runs(&jobs).await.map_err(|e| e.to_string())?;
            Ok(foreign_runs(jobs, running, &me))
        })
    }

    fn prefetch(&self, task: Arc<JobTask>) -> BoxFuture<'static, ()> {
        let cache = self.cache.clone();
        Box::pin(async move {
            let sha = task.spec.sha256.clone().unwrap_or_default();
            if let Err(e) = cache.fetch(&task.spec.executable, &sha).await {
                tracing::warn!(job_id = %task.id, error = %e, "cannot prefetch the job's executable");
            }
        })
    }

    fn launch(&self, planned: Vec<Planned>, hold: Hold) -> BoxFuture<'static, Report> {
        Box::pin(self.launcher.clone().launch(planned, hold))
    }

    fn launch_retries(&self, due: Vec<DueRetry>, hold: Hold) -> BoxFuture<'static, Report> {
        Box::pin(self.launcher.clone().launch_retries(due, hold))
    }
}
