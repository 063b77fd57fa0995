//! The deadline queue: `(when, what)` in time order, keyed on the scheduler's clock. A job has
//! at most one entry (its next tick, less the claim lead); a retry has one at its `not_before`.
//! `take_due` pops every entry whose time has come.

use super::{Assigned, RETRY_AFTER, Scheduler};
use chrono::{DateTime, Utc};
use distcron_core::payload::{Assignment, JobTask};
use distcron_core::{Concurrency, JobId, RunId};
use distcron_store::PendingRetry;
use std::sync::Arc;

/// What the queue wakes up for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Due {
    Job(JobId),
    Retry(RunId),
}

pub(super) struct JobState {
    pub task: Arc<JobTask>,
    /// Every tick up to here is accounted for. `None` while the job is being adopted.
    pub cursor: Option<DateTime<Utc>>,
    /// The queue entry for this job: when to prepare it (its due time, less the claim lead).
    pub queued: Option<DateTime<Utc>>,
    /// The time the queue entry is for (the next tick, or when to look again).
    pub due: Option<DateTime<Utc>>,
    /// A due time that came while the job's previous launch was still going.
    pub deferred: Option<DateTime<Utc>>,
    /// Runs of this job running on other workers when it was adopted (or last looked at),
    /// and when that was.
    pub foreign: Vec<RunId>,
    pub foreign_read_at: DateTime<Utc>,
    /// Its assignment: in a handoff, this worker claims its ticks up to `until` only, or
    /// from the first after `after`.
    pub assignment: Assignment,
}

impl JobState {
    /// A job just assigned: its ticks wait until MySQL says where they stand.
    pub fn adopting(assigned: Assigned) -> JobState {
        JobState {
            task: Arc::new(assigned.task),
            cursor: None,
            queued: None,
            due: None,
            deferred: None,
            foreign: vec![],
            foreign_read_at: DateTime::<Utc>::MIN_UTC,
            assignment: assigned.assignment,
        }
    }
}

/// What has come due: jobs with the time each is due until, and retries with their job.
#[derive(Default)]
pub(super) struct DueNow {
    pub jobs: Vec<(JobId, DateTime<Utc>)>,
    pub retries: Vec<(Arc<JobTask>, PendingRetry)>,
}

impl Scheduler {
    /// Queues the job for `at`. Its rows are written `claim_lead` ahead, so that at `at` only
    /// the processes remain to start; a job whose concurrency is not `allow` is decided at its
    /// time, since whether its previous run still runs can change until then.
    pub(super) fn enqueue(&mut self, job: JobId, at: Option<DateTime<Utc>>) {
        let lead = self.claim_lead;
        let Some(state) = self.jobs.get_mut(&job) else {
            return;
        };
        if let Some(old) = state.queued.take() {
            self.queue.remove(&(old, Due::Job(job)));
        }
        // Handed off: the ticks after the handoff's time are the next holder's. (A look again
        // at ticks before it, after a failed claim, may come after it.)
        let handed_off = match (state.assignment.until, state.cursor) {
            (Some(until), Some(cursor)) => {
                crate::ticks::next_tick(&state.task, cursor).is_none_or(|t| t > until)
            }
            (Some(until), None) => at.is_some_and(|t| t > until),
            (None, _) => false,
        };
        let at = at.filter(|_| !handed_off);
        state.due = at;
        if let Some(at) = at {
            let wake = if state.task.spec.options.concurrency == Concurrency::Allow {
                at - lead
            } else {
                at
            };
            state.queued = Some(wake);
            self.queue.insert((wake, Due::Job(job)));
        }
    }

    pub(super) fn drop_job(&mut self, job: &JobId) {
        if let Some(state) = self.jobs.remove(job)
            && let Some(at) = state.queued
        {
            self.queue.remove(&(at, Due::Job(*job)));
        }
        self.adopt_after_launch.remove(job);
    }

    /// A retry to start at its time (known already, or in hand: nothing to do).
    pub(super) fn schedule_retry(&mut self, r: PendingRetry) {
        if self.retries.contains_key(&r.id) || self.deps.inflight.holds(&r.id) {
            return;
        }
        self.queue.insert((r.not_before, Due::Retry(r.id)));
        self.retries.insert(r.id, r);
    }

    /// Pops every entry due by `now`. A job whose launch is still going keeps its due time
    /// for when the launch reports.
    pub(super) fn take_due(&mut self, now: DateTime<Utc>) -> DueNow {
        let mut due_now = DueNow::default();
        while let Some(&(at, key)) = self.queue.first() {
            if at > now {
                break;
            }
            self.queue.pop_first();
            match key {
                Due::Job(job) => {
                    if let Some(state) = self.jobs.get_mut(&job) {
                        state.queued = None;
                        let due = state.due.take().unwrap_or(now);
                        if self.launching.contains(&job) {
                            state.deferred = Some(due);
                        } else {
                            due_now.jobs.push((job, due.max(now)));
                        }
                    }
                }
                Due::Retry(id) => {
                    if let Some(retry) = self.due_retry(id, now) {
                        due_now.retries.push(retry);
                    }
                }
            }
        }
        due_now
    }

    /// A retry whose time has come, if its job is this worker's and adopted. A job still being
    /// adopted keeps its retry a little longer; one no longer here lets it go (its new owner
    /// finds it when it adopts the job).
    fn due_retry(&mut self, id: RunId, now: DateTime<Utc>) -> Option<(Arc<JobTask>, PendingRetry)> {
        let retry = self.retries.remove(&id)?;
        match self.jobs.get(&retry.job_id) {
            Some(state) if state.cursor.is_some() => Some((state.task.clone(), retry)),
            Some(_) => {
                let later = now + RETRY_AFTER / 10;
                self.queue.insert((later, Due::Retry(id)));
                self.retries.insert(id, retry);
                None
            }
            None => {
                tracing::debug!(job_id = %retry.job_id, run_id = %id, "a retry of a job no longer here");
                None
            }
        }
    }
}
