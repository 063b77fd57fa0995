//! Adoption: where the ticks of jobs this worker takes over stand, read from MySQL for many
//! jobs at once (jobs assigned within a few milliseconds of each other, a burst of new jobs or
//! a dead worker's, are read together): the latest tick accounted for, runs still running
//! elsewhere, and retries waiting their turn. The read is a task the scheduler owns, retried
//! with backoff until it succeeds; its answer sets each job's cursor and queues its next tick.

use super::backend::Backend;
use super::{Adoption, Chore, Scheduler};
use crate::ticks::{anchor, next_tick};
use distcron_core::{JobId, Run, RunId};
use distcron_store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Jobs assigned within this long of each other are read together.
const BATCH_WINDOW: Duration = Duration::from_millis(10);
/// The first wait after a failed read, doubled after each failure up to `BACKOFF_MAX`.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The runs of `jobs` that run elsewhere, by job: rows still `running` that another worker
/// holds. This worker's own runs are in its in-flight set, where the concurrency policies see
/// them as local (a `replace` stops them, which it cannot do to a run elsewhere).
pub(super) fn foreign_runs(
    jobs: impl IntoIterator<Item = JobId>,
    running: Vec<Run>,
    me: &str,
) -> HashMap<JobId, Vec<RunId>> {
    let mut by_job: HashMap<JobId, Vec<RunId>> =
        jobs.into_iter().map(|j| (j, Vec::new())).collect();
    for r in running {
        if r.worker_id.as_deref() != Some(me) {
            by_job.entry(r.job_id).or_default().push(r.id);
        }
    }
    by_job
}

impl Scheduler {
    /// Has these jobs read from MySQL, then scheduled. A job with a launch going is read once
    /// the launch has reported, so the read sees the rows it wrote.
    pub(super) fn adopt(&mut self, jobs: Vec<JobId>) {
        let (later, now): (Vec<JobId>, Vec<JobId>) =
            jobs.into_iter().partition(|j| self.launching.contains(j));
        self.adopt_after_launch.extend(later);
        if now.is_empty() {
            return;
        }
        for j in &now {
            if let Some(state) = self.jobs.get(j)
                && state.task.spec.job_type.is_blob()
            {
                self.prefetch(state.task.clone());
            }
        }
        self.to_adopt.extend(now);
        self.adopt_at
            .get_or_insert_with(|| tokio::time::Instant::now() + BATCH_WINDOW);
    }

    /// The batch window is over: one read for the jobs gathered in it.
    pub(super) fn start_adoption(&mut self) {
        self.adopt_at = None;
        let batch = std::mem::take(&mut self.to_adopt);
        if !batch.is_empty() {
            let backend = self.deps.backend.clone();
            self.chores.spawn(read_until_done(backend, batch));
        }
    }

    /// Where adopted jobs stand: each still here and still waiting for it gets its cursor
    /// (never before the job's anchor) and its next tick, and its retries are queued.
    pub(super) fn adopted(&mut self, adoptions: Vec<Adoption>) {
        for a in adoptions {
            let Some(state) = self.jobs.get_mut(&a.job) else {
                continue;
            };
            if state.cursor.is_some() {
                continue;
            }
            let start = anchor(&state.task);
            let cursor = a.last.map_or(start, |l| l.max(start));
            state.cursor = Some(cursor);
            state.foreign = a.foreign;
            let next = next_tick(&state.task, cursor);
            self.enqueue(a.job, next);
            for r in a.retries {
                self.schedule_retry(r);
            }
        }
    }
}

/// Reads where the jobs stand, trying again with backoff until it succeeds (or the scheduler,
/// which owns this task, ends).
async fn read_until_done(backend: Arc<dyn Backend>, jobs: Vec<JobId>) -> Chore {
    let mut wait = BACKOFF_FIRST;
    loop {
        match backend.read_adoptions(jobs.clone()).await {
            Ok(adoptions) => return Chore::Adopted(adoptions),
            Err(e) => {
                tracing::warn!(error = %e, jobs = jobs.len(), "cannot read where adopted jobs stand; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(BACKOFF_MAX);
            }
        }
    }
}

pub(super) async fn read(
    store: &Store,
    me: &str,
    jobs: &[JobId],
) -> distcron_store::Result<Vec<Adoption>> {
    let last = store.last_accounted(jobs).await?;
    let running = store.running_runs(jobs).await?;
    let retries = store.pending_retries(jobs).await?;
    let mut retries_of: HashMap<JobId, Vec<_>> = HashMap::new();
    for r in retries {
        retries_of.entry(r.job_id).or_default().push(r);
    }
    let mut foreign = foreign_runs(jobs.iter().copied(), running, me);
    Ok(jobs
        .iter()
        .map(|job| Adoption {
            job: *job,
            last: last.get(job).copied(),
            foreign: foreign.remove(job).unwrap_or_default(),
            retries: retries_of.remove(job).unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use distcron_core::RunStatus;

    fn running(job: JobId, worker: &str) -> Run {
        let now = Utc::now();
        Run {
            id: RunId::new(),
            job_id: job,
            scheduled_at: now,
            attempt: 1,
            status: RunStatus::Running,
            reason: None,
            worker_id: Some(worker.into()),
            created_at: now,
            started_at: Some(now),
            finished_at: None,
            exit_code: None,
            signal: None,
        }
    }

    #[test]
    fn only_runs_held_by_other_workers_are_foreign_and_every_job_gets_an_entry() {
        let (a, b, c) = (JobId::new(), JobId::new(), JobId::new());
        let elsewhere = running(a, "worker-2");
        let by_job = foreign_runs(
            [a, b, c],
            vec![
                elsewhere.clone(),
                running(a, "worker-1"),
                running(b, "worker-1"),
            ],
            "worker-1",
        );
        assert_eq!(by_job[&a], vec![elsewhere.id]);
        assert!(by_job[&b].is_empty(), "this worker's own run is local");
        assert!(by_job[&c].is_empty());
    }
}
