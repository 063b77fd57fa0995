//! The reconcile plan, as pure logic: given the desired jobs (MySQL) and what ZooKeeper holds,
//! the znode operations that make ZooKeeper match. No I/O here, so every rule is unit-tested.
//! The reconcile loop plans over a whole observation; a write plans over the observation of
//! just the jobs it touches (`Observed::others` counts what lies outside), with the same rules.
//!
//! The rules that keep runs single: a job held by a live worker stays there (a live owner
//! may be mid-run) but for a handoff (`handoff.rs`: a drain or a rebalance hands it to
//! another live worker at a time between ticks, each knowing its side of that time); a job
//! moves at once only away from a worker whose registration is gone, which ZooKeeper deletes
//! only once that worker's session has expired.

mod handoff;
mod placement;
mod znodes;

pub use handoff::{HANDOFF_LEAD, MAX_PER_PASS, SETTLE, next_settle};
pub use placement::Placement;
pub use znodes::{Op, assignment_data};

use chrono::{DateTime, Utc};
use distcron_core::payload::{self, Assignment, JobTask};
use distcron_core::{JobId, Resources};
use std::collections::{BTreeMap, BTreeSet};

/// What ZooKeeper holds now: all of it, or the part about some jobs.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// `/jobs/<id>` and its data.
    pub tasks: BTreeMap<JobId, Vec<u8>>,
    /// `/assignments/<worker>/<job>` and what each says (every worker directory is a key, even
    /// one holding none of the observed jobs).
    pub assignments: BTreeMap<String, BTreeMap<JobId, Assignment>>,
    /// Registered workers and their capacity.
    pub live: BTreeMap<String, u32>,
    /// What each registered worker grants one run at most (absent: nothing enforced).
    pub ceilings: BTreeMap<String, Resources>,
    /// How many assignments each worker directory holds of jobs outside the observation: they
    /// count toward the worker's load and keep its directory. Empty for a whole observation.
    pub others: BTreeMap<String, usize>,
    /// Live workers that are drained: their jobs are handed to the others, none placed there.
    pub drained: BTreeSet<String>,
    /// Drain znodes that no longer apply (the worker restarted, or is gone): removed.
    pub stale_drains: Vec<String>,
    /// When the observation was made: handoffs are timed from it.
    pub now: DateTime<Utc>,
    /// Whether to even out the live workers' loads (a whole observation only).
    pub rebalance: bool,
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
    /// holds it and is not handing it off, else the one handing it off.
    pub fn owner_of(&self, job: &JobId) -> Option<&str> {
        let live = || {
            self.assignments
                .iter()
                .filter(|(w, _)| self.live.contains_key(*w))
                .filter_map(|(w, jobs)| Some((w.as_str(), jobs.get(job)?)))
        };
        live()
            .find(|(_, a)| a.until.is_none())
            .or_else(|| live().next())
            .map(|(w, _)| w)
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
    let (mut assigns, unassigns, movable) = assignment_ops(desired, observed, &mut placement);
    assigns.extend(handoff::handoffs(movable, observed, &mut placement));
    let dir_removals = dir_removals(observed, assigns.iter().chain(unassigns.iter()));
    let drains = observed
        .stale_drains
        .iter()
        .map(|w| Op::RemoveDrain { worker: w.clone() });
    let ops = dirs
        .into_iter()
        .chain(puts)
        .chain(assigns)
        .chain(unassigns)
        .chain(deletes)
        .chain(dir_removals)
        .chain(drains)
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
/// job in `placement`; and the jobs a handoff may move (kept by a live worker, none under way).
fn assignment_ops<'a>(
    desired: &'a BTreeMap<JobId, JobTask>,
    observed: &Observed,
    placement: &mut Placement,
) -> (Vec<Op>, Vec<Op>, Vec<handoff::Movable<'a>>) {
    let mut assigns = Vec::new();
    let mut unassigns = Vec::new();
    let mut movable = Vec::new();
    // Every holder of every job, in worker order.
    let mut holders: BTreeMap<JobId, Vec<(&String, Assignment)>> = BTreeMap::new();
    for (worker, jobs) in &observed.assignments {
        for (job, held) in jobs {
            if desired.contains_key(job) {
                holders.entry(*job).or_default().push((worker, *held));
            } else {
                unassigns.push(Op::Unassign {
                    worker: worker.clone(),
                    job: *job,
                });
            }
        }
    }
    let unassign = |w: &String, job: JobId| Op::Unassign {
        worker: w.clone(),
        job,
    };
    // First pass: jobs that stay with a live owner, so loads are known before placing others.
    let mut homeless = Vec::new();
    for (job, task) in desired {
        let held = holders.get(job).map(Vec::as_slice).unwrap_or(&[]);
        let (live, dead): (Vec<_>, Vec<_>) = held
            .iter()
            .partition(|(w, _)| observed.live.contains_key(*w));
        let (outgoing, keepers): (Vec<_>, Vec<_>) =
            live.into_iter().partition(|(_, a)| a.until.is_some());
        let stale: Vec<&String> = dead.iter().map(|(w, _)| *w).collect();
        if let Some(((keeper, held), extra)) = keepers.split_first() {
            let mut want = Assignment {
                version: task.version,
                ..*held
            };
            // Its previous holder went before the handoff's time: this one takes the job
            // over from where it stands.
            if outgoing.is_empty() && want.after.is_some_and(|t| t > observed.now) {
                want.after = None;
            }
            assigns.extend(set_assignment(keeper, *job, held, want));
            for (w, a) in &outgoing {
                if handoff::settled(a, observed.now) {
                    unassigns.push(unassign(w, *job));
                } else {
                    let want = Assignment {
                        version: task.version,
                        ..*a
                    };
                    assigns.extend(set_assignment(w, *job, a, want));
                }
            }
            for (w, _) in extra {
                unassigns.push(unassign(w, *job));
            }
            unassigns.extend(stale.iter().map(|w| unassign(w, *job)));
            placement.keep(*job, keeper);
            if outgoing.is_empty() {
                movable.push(handoff::Movable {
                    job: *job,
                    task,
                    from: (*keeper).clone(),
                    held: want,
                });
            }
        } else if let Some(((w, a), rest)) = outgoing.split_first() {
            // Its new holder went: the one that was handing it off keeps it after all.
            let want = Assignment {
                version: task.version,
                until: None,
                after: a.after,
            };
            assigns.extend(set_assignment(w, *job, a, want));
            for (w, _) in rest {
                unassigns.push(unassign(w, *job));
            }
            unassigns.extend(stale.iter().map(|w| unassign(w, *job)));
            placement.keep(*job, w);
        } else {
            let dead: Vec<String> = stale.into_iter().cloned().collect();
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
    (assigns, unassigns, movable)
}

/// The op that makes `worker`'s assignment of `job` say `want` instead of `held`, if any: a
/// version alone, or the whole assignment where a handoff has a part in it.
fn set_assignment(worker: &str, job: JobId, held: &Assignment, want: Assignment) -> Option<Op> {
    if *held == want {
        None
    } else if want.until.is_none()
        && want.after.is_none()
        && held.until.is_none()
        && held.after.is_none()
    {
        Some(Op::UpdateAssignment {
            worker: worker.to_string(),
            job,
            version: want.version,
        })
    } else {
        Some(Op::SetAssignment {
            worker: worker.to_string(),
            job,
            assignment: want,
        })
    }
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
