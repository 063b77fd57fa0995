//! The session's commands: the jobs assigned to this worker (all of them after a session
//! (re)start, or one at a time), a new definition of one, one taken away, and the orphan
//! sweep's findings.

use super::queue::JobState;
use super::{Assigned, Command, Scheduler};
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
            Command::Upsert(assigned) => {
                let assigned = *assigned;
                if self.jobs.contains_key(&assigned.task.id) {
                    self.update(assigned);
                } else {
                    let id = assigned.task.id;
                    tracing::info!(job_id = %id, after = ?assigned.assignment.after, "job assigned");
                    self.jobs.insert(id, JobState::adopting(assigned));
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
    fn reconcile(&mut self, tasks: Vec<Assigned>, fresh: bool) {
        let wanted: HashSet<JobId> = tasks.iter().map(|t| t.task.id).collect();
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
        for assigned in tasks {
            let id = assigned.task.id;
            if fresh || !self.jobs.contains_key(&id) {
                self.drop_job(&id);
                self.jobs.insert(id, JobState::adopting(assigned));
                adopt.push(id);
            } else {
                self.update(assigned);
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

    /// A new definition or assignment of a job this worker already runs: its cursor stays,
    /// but never below the task's anchor (a resume this worker did not see the pause of: say,
    /// both happened while it was disconnected, and the re-read finds the same version
    /// resumed). A handoff's end (`until` lifted: the new holder went) lets it claim again
    /// from its cursor; a handoff to it whose previous holder went (`after` lifted) is adopted
    /// at once.
    fn update(&mut self, assigned: Assigned) {
        let Assigned { task, assignment } = assigned;
        let id = task.id;
        let Some(state) = self.jobs.get_mut(&id) else {
            return;
        };
        if *state.task == task && state.assignment == assignment {
            return;
        }
        let handoff_changed = state.assignment != assignment;
        if handoff_changed {
            tracing::info!(job_id = %id, until = ?assignment.until, after = ?assignment.after, "job handoff changed");
            state.assignment = assignment;
        }
        let new_executable =
            task.spec.job_type.is_blob() && task.spec.sha256 != state.task.spec.sha256;
        if *state.task != task {
            tracing::info!(job_id = %id, version = task.version, "job definition changed");
            state.task = Arc::new(task);
        }
        let task = state.task.clone();
        let start = anchor(&task);
        let cursor = state.cursor.map(|c| c.max(start));
        state.cursor = cursor;
        if new_executable {
            self.prefetch(task.clone());
        }
        match cursor {
            Some(cursor) => {
                let next = next_tick(&task, cursor);
                self.enqueue(id, next);
            }
            // Not adopted yet: a handoff whose time moved (or went) is looked at again.
            None if handoff_changed => self.adopt(vec![id]),
            None => {}
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
