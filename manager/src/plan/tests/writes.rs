//! The plan over the observation of one job, as a write makes it: its task, its assignments,
//! the live workers, and how many other jobs each worker directory holds.

use super::*;

/// An observation of no job yet: `live` workers, and worker directories with how many other
/// jobs each holds.
fn scoped(live_workers: &[&str], dirs: &[(&str, usize)]) -> Observed {
    let mut observed = Observed {
        live: live(live_workers),
        ..Observed::default()
    };
    for (worker, others) in dirs {
        observed
            .assignments
            .insert(worker.to_string(), BTreeMap::new());
        if *others > 0 {
            observed.others.insert(worker.to_string(), *others);
        }
    }
    observed
}

/// `job` published and assigned to `worker` in `observed`.
fn held(observed: &mut Observed, job: &JobTask, worker: &str) {
    observed.tasks.insert(job.id, payload::encode(job));
    observed
        .assignments
        .entry(worker.into())
        .or_default()
        .insert(job.id, Assignment::of(job.version));
}

#[test]
fn a_created_job_goes_to_the_least_loaded_live_worker_counting_jobs_outside_the_write() {
    let job = task(1);
    let observed = scoped(&["w1", "w2", "w3"], &[("w1", 3), ("w2", 1), ("w3", 2)]);
    let (ops, _) = plan(&BTreeMap::from([(job.id, job.clone())]), &observed);
    assert_eq!(
        ops,
        vec![
            Op::PutTask {
                job: job.id,
                data: payload::encode(&job),
                exists: false
            },
            Op::Assign {
                worker: "w2".into(),
                job: job.id,
                version: 1,
                from: None
            }
        ]
    );
}

#[test]
fn a_deleted_job_loses_its_task_and_assignment_and_only_an_emptied_dead_directory_goes() {
    let job = task(1);
    let mut observed = scoped(&["w1"], &[("w1", 2)]);
    held(&mut observed, &job, "w1");
    let (ops, _) = plan(&BTreeMap::new(), &observed);
    assert_eq!(
        ops,
        vec![
            Op::Unassign {
                worker: "w1".into(),
                job: job.id
            },
            Op::DeleteTask { job: job.id }
        ]
    );

    // On a dead worker whose directory holds other jobs, the directory stays.
    let mut observed = scoped(&["w1"], &[("w1", 0), ("gone", 4)]);
    held(&mut observed, &job, "gone");
    let (ops, _) = plan(&BTreeMap::new(), &observed);
    assert!(
        !ops.iter()
            .any(|op| matches!(op, Op::RemoveWorkerDir { .. })),
        "{ops:?}"
    );
    // Holding nothing else, it goes with the job.
    observed.others.clear();
    let (ops, _) = plan(&BTreeMap::new(), &observed);
    assert_eq!(
        ops.last(),
        Some(&Op::RemoveWorkerDir {
            worker: "gone".into()
        })
    );
}

#[test]
fn a_job_whose_worker_is_gone_moves_to_the_least_loaded_live_worker() {
    let job = task(1);
    let mut observed = scoped(&["w2", "w3"], &[("w1", 2), ("w2", 5), ("w3", 1)]);
    held(&mut observed, &job, "w1");
    let (ops, placement) = plan(&BTreeMap::from([(job.id, job.clone())]), &observed);
    assert_eq!(
        ops,
        vec![Op::Assign {
            worker: "w3".into(),
            job: job.id,
            version: 1,
            from: Some("w1".into())
        }]
    );
    assert_eq!(placement.load["w3"], 2);
}

#[test]
fn a_writes_rollback_plan_restores_the_old_state() {
    let job = task(1);
    // A create, then its rollback.
    let before = scoped(&["w1", "w2"], &[("w1", 1), ("w2", 0)]);
    let mut now = before.clone();
    let (ops, _) = plan(&BTreeMap::from([(job.id, job.clone())]), &now);
    apply(&mut now, &ops);
    assert_eq!(owners(&now)[&job.id], vec!["w2".to_string()]);
    let (undo, _) = plan(&before.as_desired(), &now);
    apply(&mut now, &undo);
    assert_eq!(now.tasks, before.tasks);
    assert_eq!(now.assignments, before.assignments);

    // A delete, then its rollback.
    let mut before = scoped(&["w1"], &[("w1", 3)]);
    held(&mut before, &job, "w1");
    let mut now = before.clone();
    let (ops, _) = plan(&BTreeMap::new(), &now);
    apply(&mut now, &ops);
    assert!(now.tasks.is_empty());
    let (undo, _) = plan(&before.as_desired(), &now);
    apply(&mut now, &undo);
    assert_eq!(now.tasks, before.tasks);
    assert_eq!(now.assignments, before.assignments);
}
