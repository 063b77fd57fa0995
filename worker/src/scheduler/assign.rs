//! The session's commands: the jobs assigned to this worker (all of them after a session
//! (re)start, or one at a time), a new definition of one, one taken away, and the orphan
//! sweep's findings.

use super::queue::JobState;
use super::{Command, Scheduler};
use crate::ticks::{anchor, next_tick};
use distcron_core::JobId;
use distcron_core::payload::JobTask;
use std::collections::HashSet;
use std::sync::Arc;

impl Scheduler {
    pub(super) fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Reconcile { tasks, fresh, done } => {
                self.reconcile(tasks, fresh);
                let _ = done.send(());
            }
            Command::Upsert(task) => {
                let task = *task;
                if self.jobs.contains_key(&task.id) {
                    self.update(task);
                } else {
                    let id = task.id;
                    tracing::info!(job_id = %id, "job assigned");
                    self.jobs.insert(id, JobState::adopting(task));
                    self.adopt(vec![id]);
                }
            }
            Command::Remove(job) => {
                if self.jobs.contains_key(&job) {
                    tracing::info!(job_id = %job, "job unassigned");
                    self.drop_job(&job);
                }
            }
            Command::Orphans(rows) => self.interrupt_orphans(rows),
        }
    }

    /// Every task assigned: the others are dropped, new ones (all of them, after a new
    /// session) adopted, known ones updated.
    fn reconcile(&mut self, tasks: Vec<JobTask>, fresh: bool) {
        let wanted: HashSet<JobId> = tasks.iter().map(|t| t.id).collect();
        let gone: Vec<JobId> = self
            .jobs
            .keys()
            .filter(|j| !wanted.contains(j))
            .copied()
            .collect();
        for j in &gone {
            self.drop_job(j);
        }
        let mut adopt = Vec::new();
        for task in tasks {
            let id = task.id;
            if fresh || !self.jobs.contains_key(&id) {
                self.drop_job(&id);
                self.jobs.insert(id, JobState::adopting(task));
                adopt.push(id);
            } else {
                self.update(task);
            }
        }
        tracing::info!(
            jobs = self.jobs.len(),
            dropped = gone.len(),
            adopting = adopt.len(),
            fresh,
            "assignments reconciled"
        );
        self.adopt(adopt);
    }

    /// A new definition of a job this worker already runs: its cursor stays, but never below
    /// the task's anchor (a resume this worker did not see the pause of: say, both happened
    /// while it was disconnected, and the re-read finds the same version resumed).
    fn update(&mut self, task: JobTask) {
        let id = task.id;
        let Some(state) = self.jobs.get_mut(&id) else {
            return;
        };
        if *state.task == task {
            return;
        }
        tracing::info!(job_id = %id, version = task.version, "job definition changed");
        let new_executable =
            task.spec.job_type.is_blob() && task.spec.sha256 != state.task.spec.sha256;
        state.task = Arc::new(task);
        let task = state.task.clone();
        let start = anchor(&task);
        let cursor = state.cursor.map(|c| c.max(start));
        state.cursor = cursor;
        if new_executable {
            self.prefetch(task.clone());
        }
        if let Some(cursor) = cursor {
            let next = next_tick(&task, cursor);
            self.enqueue(id, next);
        }
    }

    /// Downloads a job's executable ahead of its first run.
    pub(super) fn prefetch(&mut self, task: Arc<JobTask>) {
        let fetch = self.deps.backend.prefetch(task);
        self.chores.spawn(async move {
            fetch.await;
            super::Chore::Done
        });
    }
}
