//! What happens when the queue comes due: every due tick of every due job is decided (run, or
//! skipped with its reason, `crate::ticks`), and the rows go to a launch; retries whose time
//! has come go to a launch of their own.

use super::{Due, RETRY_AFTER, Scheduler};
use crate::exec::Stop;
use crate::launch::Planned;
use crate::ticks::{Action, MAX_MISSED, Overlap, decide, next_tick};
use chrono::{DateTime, Utc};
use distcron_core::payload::JobTask;
use distcron_core::{Concurrency, JobId, RunId, RunStatus};
use distcron_store::{NewRun, PendingRetry};
use std::sync::Arc;

impl Scheduler {
    /// Everything due now: decide each tick and launch the rows; launch the due retries.
    pub(super) fn fire(&mut self) {
        if let Err(closed) = self.deps.gate.check() {
            if self.blocked_by_gate.as_deref() != Some(closed.0.as_str()) {
                tracing::warn!(reason = %closed.0, "not launching");
            }
            self.blocked_by_gate = Some(closed.0);
            return;
        }
        let now = Utc::now();
        let mut due_jobs = Vec::new();
        let mut due_retries = Vec::new();
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
                            due_jobs.push((job, due.max(now)));
                        }
                    }
                }
                Due::Retry(id) => {
                    if let Some(retry) = self.due_retry(id, now) {
                        due_retries.push(retry);
                    }
                }
            }
        }
        let planned = self.plan(due_jobs, now);
        if !planned.is_empty() {
            let mut jobs: Vec<JobId> = planned.iter().map(|p| p.task.id).collect();
            jobs.dedup();
            // Held from here, before the launch exists: nothing can take these rows meanwhile.
            let hold = self.deps.inflight.hold(planned.iter().map(|p| p.row.id));
            let launcher = self.deps.launcher.clone();
            self.spawn_launch(jobs, launcher.launch(planned, hold));
        }
        if !due_retries.is_empty() {
            let hold = self
                .deps
                .inflight
                .hold(due_retries.iter().map(|(_, r)| r.id));
            let launcher = self.deps.launcher.clone();
            self.spawn_launch(Vec::new(), launcher.launch_retries(due_retries, hold));
        }
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

    /// Decides the due ticks of these jobs (each due until the given time) and moves their
    /// cursors past them.
    fn plan(&mut self, due: Vec<(JobId, DateTime<Utc>)>, now: DateTime<Utc>) -> Vec<Planned> {
        let mut busy = None;
        let mut planned = Vec::new();
        let mut foreign_check = Vec::new();
        for (job, until) in due {
            let Some(state) = self.jobs.get(&job) else {
                continue;
            };
            let Some(cursor) = state.cursor else { continue };
            let task = state.task.clone();
            let ticks = crate::ticks::between(&task, cursor, until);
            let Some(&last) = ticks.last() else {
                let next = next_tick(&task, cursor);
                self.enqueue(job, next);
                continue;
            };
            if ticks.len() == MAX_MISSED {
                tracing::warn!(job_id = %job, "more than {MAX_MISSED} missed ticks; accounting for the oldest first");
            }
            // `allow` ignores overlaps: no need to know of any, nor to look for foreign runs.
            let overlap = if task.spec.options.concurrency == Concurrency::Allow {
                Overlap::None
            } else if !state.foreign.is_empty() {
                Overlap::Foreign
            } else if busy
                .get_or_insert_with(|| self.deps.inflight.busy_jobs())
                .contains(&job)
            {
                Overlap::Local
            } else {
                Overlap::None
            };
            if overlap == Overlap::Foreign {
                // Those runs may have ended since: look again, for the next tick.
                foreign_check.push(job);
            }
            // Each row carries the tick before it: if its chunk cannot be written, the job goes
            // back to there, and the ticks before it (whose rows were written) stay decided.
            let mut before = cursor;
            for (t, action) in decide(
                &ticks,
                now,
                self.misfire_threshold,
                &task.spec.options,
                overlap,
            ) {
                let (status, reason) = match action {
                    Action::Run => (RunStatus::Running, None),
                    Action::Replace => {
                        for (_, run) in self.deps.inflight.of_job(&job) {
                            run.control.stop(Stop::Replaced(t));
                        }
                        (RunStatus::Running, None)
                    }
                    Action::Skip(reason) => (RunStatus::Skipped, Some(reason.to_string())),
                };
                planned.push(Planned {
                    task: task.clone(),
                    row: NewRun {
                        id: RunId::new(),
                        job_id: task.id,
                        scheduled_at: t,
                        attempt: 1,
                        status,
                        reason,
                    },
                    prev_cursor: before,
                });
                before = t;
            }
            if let Some(state) = self.jobs.get_mut(&job) {
                state.cursor = Some(last);
            }
            let next = next_tick(&task, last);
            self.enqueue(job, next);
        }
        if !foreign_check.is_empty() {
            self.refresh_foreign(foreign_check);
        }
        planned
    }

    /// Re-reads which runs of these jobs still run on other workers, so that concurrency
    /// policies stop seeing runs that have ended.
    fn refresh_foreign(&self, jobs: Vec<JobId>) {
        let store = self.deps.store.clone();
        let tx = self.deps.commands.clone();
        let me = self.deps.launcher.claimant.worker_id.clone();
        tokio::spawn(async move {
            match store.running_runs(&jobs).await {
                Ok(running) => {
                    let by_job = super::adopt::foreign_runs(jobs, running, &me);
                    let _ = tx.send(super::Command::ForeignRuns(by_job));
                }
                Err(e) => tracing::warn!(error = %e, "cannot check runs on other workers"),
            }
        });
    }
}
