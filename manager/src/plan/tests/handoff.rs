//! Handoffs between live workers: a drain and a rebalance, and what becomes of a handoff
//! when either side dies.

use super::*;
use chrono::{Duration, Timelike};

/// `jobs` all held by `worker`, the only live worker; then `more` workers join.
fn held_by(worker: &str, jobs: usize, more: &[&str]) -> (BTreeMap<JobId, JobTask>, Observed) {
    let want = desired(jobs);
    let mut observed = Observed {
        live: live(&[worker]),
        now: Utc::now(),
        ..Observed::default()
    };
    let (ops, _) = plan(&want, &observed);
    apply(&mut observed, &ops);
    for w in more {
        observed.live.insert(w.to_string(), u32::MAX);
    }
    (want, observed)
}

fn handoffs(ops: &[Op]) -> Vec<(&str, &str, DateTime<Utc>)> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Handoff { from, to, at, .. } => Some((from.as_str(), to.as_str(), *at)),
            _ => None,
        })
        .collect()
}

fn loads(observed: &Observed) -> BTreeMap<String, usize> {
    // Count each job once, against the holder that is not handing it off.
    observed
        .assignments
        .iter()
        .map(|(w, jobs)| {
            (
                w.clone(),
                jobs.values().filter(|a| a.until.is_none()).count(),
            )
        })
        .collect()
}

#[test]
fn a_drained_workers_jobs_go_to_the_others_at_a_time_between_ticks_and_it_takes_none() {
    let (mut want, mut observed) = held_by("w1", 6, &["w2", "w3"]);
    observed.rebalance = false;
    observed.drained.insert("w1".into());
    let (ops, placement) = plan(&want, &observed);
    let moves = handoffs(&ops);
    assert_eq!(moves.len(), 6, "{ops:?}");
    let at = moves[0].2;
    assert!(at > observed.now + HANDOFF_LEAD - Duration::seconds(1));
    assert_eq!(
        at.nanosecond(),
        500_000_000,
        "half past a second: between cron's ticks"
    );
    assert!(
        moves
            .iter()
            .all(|(from, to, t)| *from == "w1" && *to != "w1" && *t == at)
    );
    assert_eq!(placement.load["w2"], 3);
    assert_eq!(placement.load["w3"], 3);
    apply(&mut observed, &ops);
    for job in want.keys() {
        assert_eq!(observed.owner_of(job).map(|w| w != "w1"), Some(true));
        assert_eq!(observed.assignments["w1"][job].until, Some(at));
    }

    // Before the handoff has settled nothing changes; a new job goes elsewhere.
    let new = task(1);
    want.insert(new.id, new.clone());
    let (ops, _) = plan(&want, &observed);
    assert!(handoffs(&ops).is_empty(), "{ops:?}");
    assert!(
        !ops.iter().any(|op| matches!(op, Op::Unassign { .. })),
        "{ops:?}"
    );
    assert!(ops.iter().any(
        |op| matches!(op, Op::Assign { worker, job, .. } if worker != "w1" && *job == new.id)
    ));
    apply(&mut observed, &ops);

    // Once settled, the old assignments go.
    observed.now = at + SETTLE + Duration::milliseconds(1);
    let (ops, _) = plan(&want, &observed);
    apply(&mut observed, &ops);
    assert!(observed.assignments["w1"].is_empty(), "{ops:?}");
    let (ops, _) = plan(&want, &observed);
    assert!(ops.is_empty(), "settled: {ops:?}");
}

#[test]
fn workers_that_join_take_a_fair_share_on_a_whole_observation_only() {
    let (want, mut observed) = held_by("w1", 10, &["w2", "w3"]);
    let (ops, _) = plan(&want, &observed);
    assert!(
        handoffs(&ops).is_empty(),
        "a write does not rebalance: {ops:?}"
    );

    observed.rebalance = true;
    let (ops, _) = plan(&want, &observed);
    apply(&mut observed, &ops);
    let mut counts: Vec<usize> = loads(&observed).into_values().collect();
    counts.sort();
    assert_eq!(counts, vec![3, 3, 4], "{ops:?}");
    // A handoff under way is not moved again.
    let (ops, _) = plan(&want, &observed);
    assert!(handoffs(&ops).is_empty(), "{ops:?}");
}

#[test]
fn a_handoff_whose_new_holder_dies_leaves_the_job_with_the_old_one() {
    let (want, mut observed) = held_by("w1", 1, &["w2"]);
    observed.drained.insert("w1".into());
    let (ops, _) = plan(&want, &observed);
    apply(&mut observed, &ops);
    let job = *want.keys().next().expect("a job");
    observed.live.remove("w2");
    observed.drained.clear();
    let (ops, _) = plan(&want, &observed);
    apply(&mut observed, &ops);
    assert_eq!(
        observed.assignments["w1"][&job],
        Assignment::of(1),
        "{ops:?}"
    );
    assert!(!observed.assignments.contains_key("w2"), "{ops:?}");
}

#[test]
fn a_handoff_whose_old_holder_dies_first_lets_the_new_one_take_over_at_once() {
    let (want, mut observed) = held_by("w1", 1, &["w2"]);
    observed.drained.insert("w1".into());
    let (ops, _) = plan(&want, &observed);
    apply(&mut observed, &ops);
    let job = *want.keys().next().expect("a job");
    observed.live.remove("w1");
    observed.drained.clear();
    let (ops, _) = plan(&want, &observed);
    apply(&mut observed, &ops);
    assert_eq!(
        observed.assignments["w2"][&job],
        Assignment::of(1),
        "no longer waiting for the handoff's time: {ops:?}"
    );
}

#[test]
fn an_edit_during_a_handoff_reaches_both_holders_and_keeps_their_parts() {
    let (mut want, mut observed) = held_by("w1", 1, &["w2"]);
    observed.drained.insert("w1".into());
    let (ops, _) = plan(&want, &observed);
    apply(&mut observed, &ops);
    let job = *want.keys().next().expect("a job");
    want.get_mut(&job).expect("task").version = 2;
    let (ops, _) = plan(&want, &observed);
    apply(&mut observed, &ops);
    let (old, new) = (
        observed.assignments["w1"][&job],
        observed.assignments["w2"][&job],
    );
    assert_eq!((old.version, new.version), (2, 2), "{ops:?}");
    assert!(
        old.until.is_some() && new.after == old.until,
        "{old:?} {new:?}"
    );
}

#[test]
fn a_drain_of_a_worker_that_restarted_is_removed() {
    let (want, mut observed) = held_by("w1", 1, &[]);
    observed.stale_drains.push("w1".into());
    let (ops, _) = plan(&want, &observed);
    assert_eq!(
        ops,
        vec![Op::RemoveDrain {
            worker: "w1".into()
        }]
    );
}
