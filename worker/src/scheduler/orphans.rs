//! Rows this worker claimed but never started: neither held by a launch, in flight, nor
//! waiting to be recorded (the sweep takes them under the hold's lock, so a launch that finds
//! one afterwards leaves it alone). They are recorded interrupted.

use super::Scheduler;
use crate::exec::RunSpec;
use crate::recorder::Record;
use chrono::{DateTime, Utc};
use distcron_core::RunEnd;
use distcron_core::{JobId, RunId, RunStatus};
use std::collections::HashMap;

impl Scheduler {
    pub(super) fn interrupt_orphans(&self, rows: Vec<(RunId, JobId, DateTime<Utc>, u16)>) {
        let candidates: HashMap<RunId, (JobId, DateTime<Utc>, u16)> = rows
            .into_iter()
            .filter(|(id, ..)| !self.deps.recorder.is_pending(id))
            .map(|(id, job, at, attempt)| (id, (job, at, attempt)))
            .collect();
        let orphans = self.deps.inflight.sweep(candidates.keys().copied());
        if orphans.is_empty() {
            return;
        }
        tracing::error!(
            runs = orphans.len(),
            "found runs claimed here but never started; interrupting them"
        );
        let end = || {
            RunEnd::not_started(
                RunStatus::Interrupted,
                "interrupted: claimed by this worker but never started",
            )
        };
        for run_id in orphans {
            let (job, scheduled_at, attempt) = candidates[&run_id];
            let record = match self.jobs.get(&job) {
                Some(state) => Record::new(
                    &RunSpec {
                        run_id,
                        task: state.task.clone(),
                        scheduled_at,
                        attempt,
                    },
                    end(),
                ),
                // No longer this worker's job: its outcome alone (its lease would otherwise be
                // renewed for as long as this worker lives).
                None => Record::bare(run_id, job, scheduled_at, attempt, end()),
            };
            self.deps.recorder.record(record);
        }
    }
}
