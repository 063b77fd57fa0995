//! The reconcile plan, as pure logic: given the desired jobs (MySQL) and what ZooKeeper holds,
//! the znode operations that make ZooKeeper match. No I/O here, so every rule is unit-tested.
//!
//! The rules that keep runs single: a job held by a live worker stays there (a live owner
//! may be mid-run); a job moves only away from a worker whose registration is gone, which
//! ZooKeeper deletes only once that worker's session has expired.

use distcron_core::payload::{self, Assignment, JobTask};
use distcron_core::{JobId, Resources};
use std::collections::BTreeMap;

/// What ZooKeeper holds now.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// `/jobs/<id>` and its data.
    pub tasks: BTreeMap<JobId, Vec<u8>>,
    /// `/assignments/<worker>/<job>` and the version each names.
    pub assignments: BTreeMap<String, BTreeMap<JobId, u64>>,
    /// Registered workers and their capacity.
    pub live: BTreeMap<String, u32>,
    /// What each registered worker grants one run at most (absent: nothing enforced).
    pub ceilings: BTreeMap<String, Resources>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    EnsureWorkerDir {
        worker: String,
    },
    PutTask {
        job: JobId,
        data: Vec<u8>,
        exists: bool,
    },
    /// Gives `job` to `worker`, atomically taking it from `from` (a dead worker) if set.
    Assign {
        worker: String,
        job: JobId,
        version: u64,
        from: Option<String>,
    },
    UpdateAssignment {
        worker: String,
        job: JobId,
        version: u64,
    },
    Unassign {
        worker: String,
        job: JobId,
    },
    DeleteTask {
        job: JobId,
    },
    RemoveWorkerDir {
        worker: String,
    },
}

/// Who owns what after the plan is applied, for the leader's fast path (placing new jobs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub owner: BTreeMap<JobId, String>,
    /// Live workers and how many jobs each owns.
    pub load: BTreeMap<String, usize>,
    pub capacity: BTreeMap<String, u32>,
    pub ceilings: BTreeMap<String, Resources>,
}

impl Placement {
    /// The live worker with the fewest jobs, room for one more and ceilings that cover what
    /// the job's runs need (ties by id, for determinism); counts the job against it.
    pub fn place(&mut self, job: JobId, needs: &Resources) -> Option<String> {
        let none = Resources::default();
        let worker = self
            .load
            .iter()
            .filter(|(w, n)| {
                (**n as u64) < u64::from(self.capacity.get(*w).copied().unwrap_or(u32::MAX))
            })
            .filter(|(w, _)| {
                needs.is_empty()
                    || needs
                        .exceeds(self.ceilings.get(*w).unwrap_or(&none))
                        .is_none()
            })
            .min_by_key(|(w, n)| (**n, (*w).clone()))
            .map(|(w, _)| w.clone())?;
        *self.load.entry(worker.clone()).or_default() += 1;
        self.owner.insert(job, worker.clone());
        Some(worker)
    }

    /// Why no live worker could ever take a job needing `needs`, if none could: every one's
    /// ceilings fall short (not counting room, which frees up). `None` with no worker known.
    pub fn fits_nowhere(&self, needs: &Resources) -> Option<String> {
        if needs.is_empty() || self.load.is_empty() {
            return None;
        }
        let none = Resources::default();
        let mut why = Vec::new();
        for worker in self.load.keys() {
            match needs.exceeds(self.ceilings.get(worker).unwrap_or(&none)) {
                None => return None,
                Some(w) => why.push(format!("{worker}: {w}")),
            }
        }
        Some(format!(
            "no live worker can bound its runs so ({})",
            why.join("; ")
        ))
    }

    /// Forgets a job (taken off the schedule).
    pub fn remove(&mut self, job: &JobId) -> Option<String> {
        let worker = self.owner.remove(job)?;
        if let Some(n) = self.load.get_mut(&worker) {
            *n = n.saturating_sub(1);
        }
        Some(worker)
    }
}

/// The operations that make `observed` match `desired`, in a safe order (directories and
/// tasks before assignments that name them; unassignments before task deletions), and the
/// placement that results.
pub fn plan(desired: &BTreeMap<JobId, JobTask>, observed: &Observed) -> (Vec<Op>, Placement) {
    let mut dirs = Vec::new();
    let mut puts = Vec::new();
    let mut assigns = Vec::new();
    let mut unassigns = Vec::new();
    let mut deletes = Vec::new();

    for worker in observed.live.keys() {
        if !observed.assignments.contains_key(worker) {
            dirs.push(Op::EnsureWorkerDir {
                worker: worker.clone(),
            });
        }
    }

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
    for job in observed.tasks.keys() {
        if !desired.contains_key(job) {
            deletes.push(Op::DeleteTask { job: *job });
        }
    }

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

    let mut placement = Placement {
        capacity: observed.live.clone(),
        ceilings: observed.ceilings.clone(),
        load: observed.live.keys().map(|w| (w.clone(), 0)).collect(),
        ..Placement::default()
    };
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
            *placement.load.entry((*keeper).clone()).or_default() += 1;
            placement.owner.insert(*job, (*keeper).clone());
        } else {
            homeless.push((
                *job,
                task.version,
                dead.iter().map(|(w, _)| (*w).clone()).collect::<Vec<_>>(),
            ));
        }
    }
    for (job, version, dead) in homeless {
        // With no live worker that has room (and grants what its runs need), any dead owner's
        // claim stays in place; the job moves as soon as such a worker registers.
        let needs = desired
            .get(&job)
            .map(|t| t.spec.resources)
            .unwrap_or_default();
        if let Some(worker) = placement.place(job, &needs) {
            let mut dead = dead.into_iter();
            assigns.push(Op::Assign {
                worker,
                job,
                version,
                from: dead.next(),
            });
            for w in dead {
                unassigns.push(Op::Unassign { worker: w, job });
            }
        }
    }

    // Dead workers' directories that end up empty go away.
    let mut removed: BTreeMap<&String, usize> = BTreeMap::new();
    for op in assigns.iter().chain(unassigns.iter()) {
        match op {
            Op::Assign { from: Some(w), .. } | Op::Unassign { worker: w, .. } => {
                *removed.entry(w).or_default() += 1;
            }
            _ => {}
        }
    }
    let mut dir_removals = Vec::new();
    for (worker, jobs) in &observed.assignments {
        if !observed.live.contains_key(worker)
            && removed.get(worker).copied().unwrap_or(0) == jobs.len()
        {
            dir_removals.push(Op::RemoveWorkerDir {
                worker: worker.clone(),
            });
        }
    }

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

/// The data of an assignment znode.
pub fn assignment_data(version: u64) -> Vec<u8> {
    payload::encode(&Assignment { version })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use distcron_core::{JobSpec, JobType, Schedule, TimeZone, UserName};

    fn task(version: u64) -> JobTask {
        JobTask {
            id: JobId::new(),
            version,
            owner: UserName::parse("alice").expect("name"),
            created_at: Utc::now(),
            run_uid: Some(200_000),
            spec: JobSpec {
                name: None,
                job_type: JobType::Command,
                executable: "true".into(),
                sha256: None,
                schedule: Schedule::parse("* * * * *").expect("schedule"),
                timezone: TimeZone::utc(),
                timeout_seconds: None,
                privileged: false,
                run_as: None,
                options: Default::default(),
                resources: Default::default(),
            },
        }
    }

    fn desired(n: usize) -> BTreeMap<JobId, JobTask> {
        (0..n).map(|_| task(1)).map(|t| (t.id, t)).collect()
    }

    fn live(workers: &[&str]) -> BTreeMap<String, u32> {
        workers.iter().map(|w| (w.to_string(), u32::MAX)).collect()
    }

    /// Applies the plan to an observation, as ZooKeeper would.
    fn apply(observed: &mut Observed, ops: &[Op]) {
        for op in ops {
            match op {
                Op::EnsureWorkerDir { worker } => {
                    observed.assignments.entry(worker.clone()).or_default();
                }
                Op::PutTask { job, data, .. } => {
                    observed.tasks.insert(*job, data.clone());
                }
                Op::Assign {
                    worker,
                    job,
                    version,
                    from,
                } => {
                    if let Some(f) = from {
                        observed
                            .assignments
                            .get_mut(f)
                            .expect("from dir")
                            .remove(job);
                    }
                    observed
                        .assignments
                        .entry(worker.clone())
                        .or_default()
                        .insert(*job, *version);
                }
                Op::UpdateAssignment {
                    worker,
                    job,
                    version,
                } => {
                    observed
                        .assignments
                        .get_mut(worker)
                        .expect("dir")
                        .insert(*job, *version);
                }
                Op::Unassign { worker, job } => {
                    observed
                        .assignments
                        .get_mut(worker)
                        .expect("dir")
                        .remove(job);
                }
                Op::DeleteTask { job } => {
                    observed.tasks.remove(job);
                }
                Op::RemoveWorkerDir { worker } => {
                    let dir = observed.assignments.remove(worker).expect("dir");
                    assert!(dir.is_empty(), "removing a non-empty dir");
                }
            }
        }
    }

    fn owners(observed: &Observed) -> BTreeMap<JobId, Vec<String>> {
        let mut out: BTreeMap<JobId, Vec<String>> = BTreeMap::new();
        for (w, jobs) in &observed.assignments {
            for j in jobs.keys() {
                out.entry(*j).or_default().push(w.clone());
            }
        }
        out
    }

    #[test]
    fn new_jobs_are_published_and_spread_evenly_over_live_workers() {
        let want = desired(10);
        let mut observed = Observed {
            live: live(&["w1", "w2", "w3"]),
            ..Observed::default()
        };
        let (ops, placement) = plan(&want, &observed);
        apply(&mut observed, &ops);
        assert_eq!(observed.tasks.len(), 10);
        let owners = owners(&observed);
        assert_eq!(owners.len(), 10);
        assert!(
            owners.values().all(|o| o.len() == 1),
            "each job has exactly one owner"
        );
        let mut loads: Vec<usize> = placement.load.values().copied().collect();
        loads.sort();
        assert_eq!(loads, vec![3, 3, 4]);
        let (again, _) = plan(&want, &observed);
        assert!(
            again.is_empty(),
            "a converged state needs no operations: {again:?}"
        );
    }

    #[test]
    fn a_dead_workers_jobs_move_to_the_living_and_its_directory_goes() {
        let want = desired(9);
        let mut observed = Observed {
            live: live(&["w1", "w2", "w3"]),
            ..Observed::default()
        };
        let (ops, _) = plan(&want, &observed);
        apply(&mut observed, &ops);
        let held_by_w2: Vec<JobId> = observed.assignments["w2"].keys().copied().collect();
        observed.live.remove("w2");
        let (ops, placement) = plan(&want, &observed);
        // Moves are atomic: each is one Assign that names the dead owner.
        let moves = ops
            .iter()
            .filter(|op| matches!(op, Op::Assign { from: Some(f), .. } if f == "w2"))
            .count();
        assert_eq!(moves, held_by_w2.len());
        apply(&mut observed, &ops);
        assert!(!observed.assignments.contains_key("w2"));
        let owners = owners(&observed);
        for job in held_by_w2 {
            assert_eq!(owners[&job].len(), 1);
            assert_ne!(owners[&job][0], "w2");
        }
        assert_eq!(placement.load.values().sum::<usize>(), 9);
        assert!(
            placement.load.values().all(|n| *n == 4 || *n == 5),
            "{:?}",
            placement.load
        );
    }

    #[test]
    fn jobs_of_live_workers_never_move_even_when_unbalanced() {
        let want = desired(6);
        let mut observed = Observed {
            live: live(&["w1"]),
            ..Observed::default()
        };
        let (ops, _) = plan(&want, &observed);
        apply(&mut observed, &ops);
        observed.live = live(&["w1", "w2"]);
        let (ops, placement) = plan(&want, &observed);
        assert!(
            ops.iter()
                .all(|op| matches!(op, Op::EnsureWorkerDir { .. })),
            "only the new worker's directory is created: {ops:?}"
        );
        assert_eq!(placement.load["w1"], 6);
        assert_eq!(placement.load["w2"], 0);
    }

    #[test]
    fn finished_jobs_are_unassigned_and_their_tasks_deleted() {
        let mut want = desired(3);
        let mut observed = Observed {
            live: live(&["w1"]),
            ..Observed::default()
        };
        let (ops, _) = plan(&want, &observed);
        apply(&mut observed, &ops);
        let gone = *want.keys().next().expect("a job");
        want.remove(&gone);
        let (ops, _) = plan(&want, &observed);
        assert_eq!(
            ops,
            vec![
                Op::Unassign {
                    worker: "w1".into(),
                    job: gone
                },
                Op::DeleteTask { job: gone }
            ]
        );
    }

    #[test]
    fn a_changed_definition_rewrites_the_task_and_bumps_the_assignment() {
        let mut want = desired(1);
        let mut observed = Observed {
            live: live(&["w1"]),
            ..Observed::default()
        };
        let (ops, _) = plan(&want, &observed);
        apply(&mut observed, &ops);
        let job = *want.keys().next().expect("a job");
        want.get_mut(&job).expect("task").version = 2;
        let (ops, _) = plan(&want, &observed);
        assert!(matches!(&ops[0], Op::PutTask { exists: true, .. }));
        assert_eq!(
            ops[1],
            Op::UpdateAssignment {
                worker: "w1".into(),
                job,
                version: 2
            }
        );
    }

    #[test]
    fn duplicate_owners_are_reduced_to_one() {
        let want = desired(1);
        let job = *want.keys().next().expect("a job");
        let mut observed = Observed {
            live: live(&["w1", "w2"]),
            ..Observed::default()
        };
        observed.tasks.insert(job, payload::encode(&want[&job]));
        for w in ["w1", "w2"] {
            observed
                .assignments
                .entry(w.into())
                .or_default()
                .insert(job, 1);
        }
        let (ops, _) = plan(&want, &observed);
        assert_eq!(
            ops,
            vec![Op::Unassign {
                worker: "w2".into(),
                job
            }]
        );
    }

    #[test]
    fn without_live_workers_jobs_stay_where_they_are() {
        let want = desired(2);
        let mut observed = Observed {
            live: live(&["w1"]),
            ..Observed::default()
        };
        let (ops, _) = plan(&want, &observed);
        apply(&mut observed, &ops);
        observed.live.clear();
        let (ops, placement) = plan(&want, &observed);
        assert!(ops.is_empty(), "{ops:?}");
        assert!(placement.owner.is_empty());
    }

    #[test]
    fn capacity_is_respected() {
        let want = desired(5);
        let mut observed = Observed::default();
        observed.live.insert("small".into(), 1);
        observed.live.insert("big".into(), 10);
        let (_, placement) = plan(&want, &observed);
        assert_eq!(placement.load["small"], 1);
        assert_eq!(placement.load["big"], 4);
    }

    #[test]
    fn a_job_goes_only_to_a_worker_whose_ceilings_cover_what_it_names() {
        let needs = |mb: u32| Resources {
            memory_mb: Some(mb),
            ..Default::default()
        };
        let mut want = desired(4);
        for t in want.values_mut() {
            t.spec.resources = needs(1024);
        }
        let plain = task(1);
        want.insert(plain.id, plain.clone());
        let mut huge = task(1);
        huge.spec.resources = needs(100_000);
        want.insert(huge.id, huge.clone());
        let mut observed = Observed {
            live: live(&["small", "big", "blind"]),
            ..Observed::default()
        };
        observed.ceilings.insert("small".into(), needs(512));
        observed.ceilings.insert("big".into(), needs(4096));
        // "blind" enforces nothing: only jobs that name nothing may go there.
        let (_, placement) = plan(&want, &observed);
        for (job, worker) in &placement.owner {
            if *job != plain.id {
                assert_eq!(worker, "big", "{job}");
            }
        }
        assert!(placement.owner.contains_key(&plain.id));
        assert!(
            !placement.owner.contains_key(&huge.id),
            "no worker grants 100000 MiB"
        );
    }

    #[test]
    fn a_job_no_live_worker_could_take_is_named_and_one_that_fits_somewhere_is_not() {
        let mut observed = Observed {
            live: live(&["w1", "w2"]),
            ..Observed::default()
        };
        let ceiling = Resources {
            memory_mb: Some(512),
            ..Default::default()
        };
        observed.ceilings.insert("w1".into(), ceiling);
        let (_, placement) = plan(&BTreeMap::new(), &observed);
        let needs = |mb| Resources {
            memory_mb: Some(mb),
            ..Default::default()
        };
        assert_eq!(placement.fits_nowhere(&needs(256)), None);
        assert_eq!(placement.fits_nowhere(&Resources::default()), None);
        let why = placement.fits_nowhere(&needs(1024)).expect("fits nowhere");
        assert!(
            why.contains("w1: memory_mb 1024 is above the ceiling of 512"),
            "{why}"
        );
        assert!(why.contains("w2: memory_mb is not enforced here"), "{why}");
        assert_eq!(Placement::default().fits_nowhere(&needs(1024)), None);
    }
}
