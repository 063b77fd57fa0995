//! Adoption: where the ticks of jobs this worker takes over stand, read from MySQL for many
//! jobs at once (jobs assigned within a few milliseconds of each other, a burst of new jobs or
//! a dead worker's, are read together): the latest tick accounted for, runs still running
//! elsewhere, and retries waiting their turn. The read is a task the scheduler owns, retried
//! with backoff until it succeeds; its answer sets each job's cursor and queues its next tick.

use super::backend::Backend;
use super::{Adoption, Chore, Scheduler};
use crate::ticks::{anchor, next_tick};
use distcron_core::JobId;
use std::sync::Arc;
use std::time::Duration;

/// Jobs assigned within this long of each other are read together.
const BATCH_WINDOW: Duration = Duration::from_millis(10);
/// The first wait after a failed read, doubled after each failure up to `BACKOFF_MAX`.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long after a handoff's time the new holder reads where the job stands: the previous
/// holder claims a tick at its time at the latest (half a second ahead for most jobs).
const HANDOFF_READ_DELAY: chrono::Duration = chrono::Duration::milliseconds(100);

impl Scheduler {
    /// Has these jobs read from MySQL, then scheduled. A job with a launch going is read once
    /// the launch has reported, so the read sees the rows it wrote.
    /// A job handed to this worker is read once the handoff's time has passed, so that the
    /// read sees the previous holder's last runs.
    pub(super) fn adopt(&mut self, jobs: Vec<JobId>) {
        let now = self.deps.clock.now();
        let (waiting, jobs): (Vec<JobId>, Vec<JobId>) = jobs.into_iter().partition(|j| {
            self.jobs
                .get(j)
                .and_then(|s| s.assignment.after)
                .is_some_and(|after| after > now)
        });
        for job in waiting {
            let after = self.jobs[&job].assignment.after.unwrap_or(now);
            let at = self.deps.clock.instant_for(after + HANDOFF_READ_DELAY);
            self.chores.spawn(async move {
                tokio::time::sleep_until(at).await;
                Chore::HandoffDue(job)
            });
        }
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
            // Never before the job's anchor. A job handed over is read after the handoff's time,
            // when the previous holder has claimed its ticks up to it: its last claim is the
            // cursor, and if it died first, the ticks it missed are caught up as after any
            // worker's death (the misfire policy), never lost.
            let start = anchor(&state.task);
            let cursor = a.last.map_or(start, |l| l.max(start));
            state.cursor = Some(cursor);
            state.foreign = a.foreign;
            state.foreign_read_at = self.deps.clock.now();
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
