//! The reconcile plan, as pure logic: given the desired jobs (MySQL) and what ZooKeeper holds,
//! the znode operations that make ZooKeeper match. No I/O here, so every rule is unit-tested.
//! The reconcile loop plans over a whole observation; a write plans over the observation of
//! just the jobs it touches (`Observed::others` counts what lies outside), with the same rules.
//!
//! The rules that keep runs single: a job held by a live worker stays there (a live owner
//! may be mid-run); a job moves only away from a worker whose registration is gone, which
//! ZooKeeper deletes only once that worker's session has expired.

mod placement;
mod znodes;

pub use placement::Placement;
pub use znodes::{Op, assignment_data};

use distcron_core::payload::{self, JobTask};
use distcron_core::{JobId, Resources};
use std::collections::BTreeMap;

/// What ZooKeeper holds now: all of it, or the part about some jobs.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// `/jobs/<id>` and its data.
    pub tasks: BTreeMap<JobId, Vec<u8>>,
    /// `/assignments/<worker>/<job>` and the version each names (every worker directory is a
    /// key, even one holding none of the observed jobs).
    pub assignments: BTreeMap<String, BTreeMap<JobId, u64>>,
    /// Registered workers and their capacity.
    pub live: BTreeMap<String, u32>,
    /// What each registered worker grants one run at most (absent: nothing enforced).
    pub ceilings: BTreeMap<String, Resources>,
    /// How many assignments each worker directory holds of jobs outside the observation: they
    /// count toward the worker's load and keep its directory. Empty for a whole observation.
    pub others: BTreeMap<String, usize>,
}

impl Observed {
    /// The observed jobs as a desired state: the tasks held, each as the job it describes (one
    /// that cannot be read back is left out). What a write's rollback returns to.
    pub fn as_desired(&self) -> BTreeMap<JobId, JobTask> {
        self.tasks
            .iter()
            .filter_map(|(id, data)| Some((*id, payload::decode::<JobTask>(data).ok()?)))
            .collect()
    }

    /// The job's owner, as the plan keeps it: the first live worker (in worker order) that
    /// holds it.
    pub fn owner_of(&self, job: &JobId) -> Option<&str> {
        self.assignments
            .iter()
            .find(|(w, jobs)| self.live.contains_key(*w) && jobs.contains_key(job))
            .map(|(w, _)| w.as_str())
    }
}

/// The operations that make `observed` match `desired`, in a safe order (directories and
/// tasks before assignments that name them; unassignments before task deletions), and the
/// placement that results. Jobs in neither are left alone; an observed job not desired is
/// withdrawn.
pub fn plan(desired: &BTreeMap<JobId, JobTask>, observed: &Observed) -> (Vec<Op>, Placement) {
    let dirs = observed
        .live
        .keys()
        .filter(|w| !observed.assignments.contains_key(*w))
        .map(|w| Op::EnsureWorkerDir { worker: w.clone() })
        .collect::<Vec<_>>();
    let (puts, deletes) = task_ops(desired, observed);
    let mut placement = Placement::new(observed);
    let (assigns, unassigns) = assignment_ops(desired, observed, &mut placement);
    let dir_removals = dir_removals(observed, assigns.iter().chain(unassigns.iter()));
    let ops = dirs
        .into_iter()
        .chain(puts)
        .chain(assigns)
        .chain(unassigns)
        .chain(deletes)
        .chain(dir_removals)
        .collect();
    (ops, placement)
}

/// Tasks written (new or changed) and tasks deleted (no longer desired).
fn task_ops(desired: &BTreeMap<JobId, JobTask>, observed: &Observed) -> (Vec<Op>, Vec<Op>) {
    let mut puts = Vec::new();
    for (job, task) in desired {
        let data = payload::encode(task);
        match observed.tasks.get(job) {
            Some(existing) if *existing == data => {}
            existing => puts.push(Op::PutTask {
                job: *job,
                data,
                exists: existing.is_some(),
            }),
        }
    }
    let deletes = observed
        .tasks
        .keys()
        .filter(|job| !desired.contains_key(job))
        .map(|job| Op::DeleteTask { job: *job })
        .collect();
    (puts, deletes)
}

/// Assignments made, moved or updated, and assignments removed; counts every kept or placed
/// job in `placement`.
fn assignment_ops(
    desired: &BTreeMap<JobId, JobTask>,
    observed: &Observed,
    placement: &mut Placement,
) -> (Vec<Op>, Vec<Op>) {
    let mut assigns = Vec::new();
    let mut unassigns = Vec::new();
    // Every holder of every job, in worker order.
    let mut holders: BTreeMap<JobId, Vec<(&String, u64)>> = BTreeMap::new();
    for (worker, jobs) in &observed.assignments {
        for (job, version) in jobs {
            if desired.contains_key(job) {
                holders.entry(*job).or_default().push((worker, *version));
            } else {
                unassigns.push(Op::Unassign {
                    worker: worker.clone(),
                    job: *job,
                });
            }
        }
    }
    // First pass: jobs that stay with a live owner, so loads are known before placing others.
    let mut homeless = Vec::new();
    for (job, task) in desired {
        let held = holders.get(job).map(Vec::as_slice).unwrap_or(&[]);
        let (live, dead): (Vec<_>, Vec<_>) = held
            .iter()
            .partition(|(w, _)| observed.live.contains_key(*w));
        if let Some(((keeper, version), extra)) = live.split_first() {
            if *version != task.version {
                assigns.push(Op::UpdateAssignment {
                    worker: (*keeper).clone(),
                    job: *job,
                    version: task.version,
                });
            }
            for (w, _) in extra.iter().chain(dead.iter()) {
                unassigns.push(Op::Unassign {
                    worker: (*w).clone(),
                    job: *job,
                });
            }
            placement.keep(*job, keeper);
        } else {
            let dead: Vec<String> = dead.iter().map(|(w, _)| (*w).clone()).collect();
            homeless.push((*job, task, dead));
        }
    }
    for (job, task, dead) in homeless {
        // With no live worker that has room (and grants what its runs need), any dead owner's
        // claim stays in place; the job moves as soon as such a worker registers.
        if let Some(worker) = placement.place(job, &task.spec.resources) {
            let mut dead = dead.into_iter();
            assigns.push(Op::Assign {
                worker,
                job,
                version: task.version,
                from: dead.next(),
            });
            for w in dead {
                unassigns.push(Op::Unassign { worker: w, job });
            }
        }
    }
    (assigns, unassigns)
}

/// Dead workers' directories that end up empty go away.
fn dir_removals<'a>(observed: &Observed, moves: impl Iterator<Item = &'a Op>) -> Vec<Op> {
    let mut removed: BTreeMap<&String, usize> = BTreeMap::new();
    for op in moves {
        match op {
            Op::Assign { from: Some(w), .. } | Op::Unassign { worker: w, .. } => {
                *removed.entry(w).or_default() += 1;
            }
            _ => {}
        }
    }
    observed
        .assignments
        .iter()
        .filter(|(worker, jobs)| {
            !observed.live.contains_key(*worker)
                && observed.others.get(*worker).copied().unwrap_or(0) == 0
                && removed.get(worker).copied().unwrap_or(0) == jobs.len()
        })
        .map(|(worker, _)| Op::RemoveWorkerDir {
            worker: worker.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
