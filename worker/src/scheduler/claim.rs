//! The queue came due: every due tick of every due job is decided (run, or skipped with its
//! reason, `crate::ticks`), and the rows go to a launch; retries whose time has come go to a
//! launch of their own. A launch's report brings back the ticks whose rows could not be
//! written (looked at again a second later) and the retries that could not be claimed.

use super::{Chore, RETRY_AFTER, Scheduler};
use crate::exec::Stop;
use crate::launch::{DueRetry, Planned, Report};
use crate::ticks::{Action, MAX_MISSED, Overlap, decide, next_tick};
use chrono::{DateTime, Utc};
use distcron_core::payload::JobTask;
use distcron_core::run::skip;
use distcron_core::{Concurrency, JobId, NewRun, RunId, RunStatus};
use distcron_store::PendingRetry;
use std::collections::HashSet;
use std::sync::Arc;

/// Runs seen elsewhere longer ago than this are looked at again before a tick is decided by
/// them, and the tick waits `FOREIGN_RECHECK` for the answer.
const FOREIGN_FRESH: chrono::Duration = chrono::Duration::seconds(1);
const FOREIGN_RECHECK: chrono::Duration = chrono::Duration::milliseconds(200);

impl Scheduler {
    /// Everything due now: decide each tick and launch the rows; launch the due retries.
    pub(super) fn claim_ticks(&mut self) {
        if let Err(closed) = self.deps.gate.check() {
            if self.blocked_by_gate.as_deref() != Some(closed.0.as_str()) {
                tracing::warn!(reason = %closed.0, "not launching");
            }
            self.blocked_by_gate = Some(closed.0);
            return;
        }
        let now = self.deps.clock.now();
        let due = self.take_due(now);
        let planned = self.decide_ticks(due.jobs, now);
        if !planned.is_empty() {
            let mut jobs: Vec<JobId> = planned.iter().map(|p| p.task.id).collect();
            jobs.dedup();
            // Held from here, before the launch exists: nothing can take these rows meanwhile.
            let hold = self.deps.inflight.hold(planned.iter().map(|p| p.row.id));
            let launch = self.deps.backend.launch(planned, hold);
            self.spawn_launch(jobs, launch);
        }
        if !due.retries.is_empty() {
            // Decided first (a run asked for now may wait a moment for news of runs
            // elsewhere), then held, before the launch exists, as the ticks' rows are.
            let retries = self.decide_retries(due.retries);
            if !retries.is_empty() {
                let hold = self.deps.inflight.hold(retries.iter().map(|r| r.retry.id));
                let launch = self.deps.backend.launch_retries(retries, hold);
                self.spawn_launch(Vec::new(), launch);
            }
        }
    }

    /// A retry runs whatever runs meanwhile: its tick passed the job's concurrency policy
    /// already. A run asked for now (manual, first attempt) has not: under `forbid` it is
    /// skipped while another run is under way here or elsewhere, under `replace` the runs
    /// here are stopped for it.
    fn decide_retries(&mut self, due: Vec<(Arc<JobTask>, PendingRetry)>) -> Vec<DueRetry> {
        let mut busy = None;
        let mut deferred = Vec::new();
        let mut out = Vec::with_capacity(due.len());
        for (task, retry) in due {
            let mut skip = None;
            if retry.triggered_by.is_some() && retry.attempt == 1 {
                let job = task.id;
                match task.spec.options.concurrency {
                    Concurrency::Allow => {}
                    Concurrency::Forbid => {
                        let now = self.deps.clock.now();
                        let stale = self.jobs.get(&job).is_some_and(|s| {
                            !s.foreign.is_empty() && now - s.foreign_read_at > FOREIGN_FRESH
                        });
                        if stale {
                            // As for a tick: runs elsewhere seen a while ago may have ended.
                            // Look again, and decide this run once the answer is in.
                            self.refresh_foreign(vec![job]);
                            let mut later = retry;
                            later.not_before = now + FOREIGN_RECHECK;
                            deferred.push(later);
                            continue;
                        }
                        let foreign = self.jobs.get(&job).is_some_and(|s| !s.foreign.is_empty());
                        let local = busy
                            .get_or_insert_with(|| self.deps.inflight.busy_jobs())
                            .contains(&job);
                        if foreign || local {
                            skip = Some(skip::OVERLAP);
                        }
                    }
                    Concurrency::Replace => {
                        for (_, run) in self.deps.inflight.of_job(&job) {
                            run.control.stop(Stop::Replaced(retry.scheduled_at));
                        }
                    }
                }
            }
            out.push(DueRetry { task, retry, skip });
        }
        for r in deferred {
            self.schedule_retry(r);
        }
        out
    }

    /// Starts a launch task for these jobs' rows (or for retries, with no jobs).
    fn spawn_launch(
        &mut self,
        jobs: Vec<JobId>,
        launch: impl std::future::Future<Output = Report> + Send + 'static,
    ) {
        let handle = self.launches.spawn(launch);
        self.launching.extend(jobs.iter().copied());
        self.launch_jobs.insert(handle.id(), jobs);
    }

    /// A launch reported: its jobs may be claimed again, rolled-back ticks are looked at again
    /// shortly, and what waited for the launch goes ahead.
    pub(super) fn launched(
        &mut self,
        done: Result<(tokio::task::Id, Report), tokio::task::JoinError>,
    ) {
        let (jobs, report) = match done {
            Ok((id, report)) => (self.launch_jobs.remove(&id).unwrap_or_default(), report),
            Err(e) => {
                let jobs = self.launch_jobs.remove(&e.id()).unwrap_or_default();
                tracing::error!(error = %e, jobs = jobs.len(), "a launch failed; its claimed rows are left to the orphan sweep");
                (jobs, Report::default())
            }
        };
        for job in &jobs {
            self.launching.remove(job);
        }
        let retry_at = self.deps.clock.now() + RETRY_AFTER;
        let rolled_back: HashSet<JobId> = report.rolled_back.iter().map(|(j, _)| *j).collect();
        for (job, prev) in report.rolled_back {
            // A job being adopted anew (it was assigned again during the launch) gets its
            // cursor from MySQL, which has whatever the launch wrote.
            if let Some(state) = self.jobs.get_mut(&job)
                && let Some(cursor) = state.cursor
            {
                state.cursor = Some(cursor.min(prev));
                state.deferred = None;
                self.enqueue(job, Some(retry_at));
            }
        }
        for job in jobs {
            if !rolled_back.contains(&job)
                && let Some(at) = self.jobs.get_mut(&job).and_then(|s| s.deferred.take())
            {
                self.enqueue(job, Some(at));
            }
            if self.adopt_after_launch.remove(&job) && self.jobs.contains_key(&job) {
                self.adopt(vec![job]);
            }
        }
        for mut r in report.retries_failed {
            r.not_before = retry_at;
            self.schedule_retry(r);
        }
    }

    /// Decides the due ticks of these jobs (each due until the given time) and moves their
    /// cursors past them.
    fn decide_ticks(
        &mut self,
        due: Vec<(JobId, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) -> Vec<Planned> {
        let mut busy = None;
        let mut planned = Vec::new();
        let mut foreign_check = Vec::new();
        for (job, until) in due {
            let Some(state) = self.jobs.get(&job) else {
                continue;
            };
            let Some(cursor) = state.cursor else { continue };
            let task = state.task.clone();
            // Never past a handoff's time, however late this comes: those are the next holder's.
            let until = state.assignment.until.map_or(until, |t| until.min(t));
            let foreign_stale = task.spec.options.concurrency != Concurrency::Allow
                && !state.foreign.is_empty()
                && now - state.foreign_read_at > FOREIGN_FRESH;
            if foreign_stale {
                // Runs elsewhere seen a while ago (a job handed over mid-run, say) may have
                // ended: look again before deciding, rather than skip a tick for them.
                foreign_check.push(job);
                self.enqueue(job, Some(now + FOREIGN_RECHECK));
                continue;
            }
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
                    Action::Skip(reason) => {
                        crate::metrics::tick_skipped(reason);
                        (RunStatus::Skipped, Some(reason.to_string()))
                    }
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
    fn refresh_foreign(&mut self, jobs: Vec<JobId>) {
        let read = self.deps.backend.running_elsewhere(jobs);
        self.chores.spawn(async move {
            match read.await {
                Ok(by_job) => Chore::Foreign(by_job),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot check runs on other workers");
                    Chore::Done
                }
            }
        });
    }
}
