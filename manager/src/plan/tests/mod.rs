//! The plan's rules, over whole observations (the reconcile loop's).

use super::*;
use chrono::Utc;
use distcron_core::{JobSpec, JobType, Schedule, TimeZone, UserName};

fn task(version: u64) -> JobTask {
    JobTask {
        id: JobId::new(),
        version,
        owner: UserName::parse("alice").expect("name"),
        created_at: Utc::now(),
        resumed_at: None,
        schedule_changed_at: None,
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
                    .insert(*job, Assignment::of(*version));
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
                    .insert(*job, Assignment::of(*version));
            }
            Op::SetAssignment {
                worker,
                job,
                assignment,
            } => {
                let held = observed.assignments.get_mut(worker).expect("dir");
                assert!(
                    held.contains_key(job),
                    "setting an assignment that is not there"
                );
                held.insert(*job, *assignment);
            }
            Op::Handoff {
                job,
                from,
                to,
                at,
                held,
            } => {
                observed
                    .assignments
                    .get_mut(from)
                    .expect("from dir")
                    .insert(*job, *held);
                let taken = Assignment {
                    after: Some(*at),
                    ..Assignment::of(held.version)
                };
                let prior = observed
                    .assignments
                    .get_mut(to)
                    .expect("to dir")
                    .insert(*job, taken);
                assert!(prior.is_none(), "handing a job to a worker that holds it");
            }
            Op::PutDrain { worker, .. } => {
                observed.drained.insert(worker.clone());
            }
            Op::RemoveDrain { worker } => {
                observed.stale_drains.retain(|w| w != worker);
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
            .insert(job, Assignment::of(1));
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

mod handoff;
mod writes;
