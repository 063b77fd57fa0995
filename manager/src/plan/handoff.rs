//! Handoffs: moving a job between two live workers without a tick lost or run twice. The old
//! holder's assignment gets `until: T` and the new one is created with `after: T`, `T` a
//! moment between whole seconds (cron's ticks) far enough ahead for the old holder to learn
//! of it before it claims past it. The old holder claims the job's ticks up to `T` (its runs
//! under way finish there); the new one reads where the job stands once `T` has passed (the
//! old holder's last claim, made ahead of its tick) and claims from the next tick; should the
//! old holder have died first, what it missed is caught up as after any worker's death. The
//! run-row fence stays the last word should either be late. Once `T` has settled, the old
//! assignment goes.
//!
//! What moves: every job of a drained worker, and, on a whole observation, enough jobs from
//! the most loaded live workers to the least loaded (one that just joined, say) that no two
//! differ by more than one, among those each could take.

use super::{Observed, Op, Placement};
use chrono::{DateTime, Duration, DurationRound, Utc};
use distcron_core::JobId;
use distcron_core::payload::{Assignment, JobTask};
use std::collections::BTreeMap;

/// How far ahead of the plan a handoff's time is (then rounded to half past a second).
pub const HANDOFF_LEAD: Duration = Duration::seconds(3);
/// How long after a handoff's time the old holder's assignment goes: its last claims (made
/// ahead of their ticks) and launches are done by then.
pub const SETTLE: Duration = Duration::seconds(2);
/// The most handoffs one pass plans: each old holder reads its changed assignments one by one,
/// and must know of its `until` before its time; the next pass (at this one's handoff time)
/// plans more.
pub const MAX_PER_PASS: usize = 1000;

/// A job kept by a live worker with no handoff under way.
pub struct Movable<'a> {
    pub job: JobId,
    pub task: &'a JobTask,
    pub from: String,
    /// The keeper's assignment, as the plan leaves it.
    pub held: Assignment,
}

/// The moment a handoff planned at `now` happens: half past the second `HANDOFF_LEAD` on.
pub fn handoff_time(now: DateTime<Utc>) -> DateTime<Utc> {
    let second = (now + HANDOFF_LEAD)
        .duration_trunc(Duration::seconds(1))
        .unwrap_or(now + HANDOFF_LEAD);
    second + Duration::milliseconds(500)
}

/// Whether an outgoing holder's part in a handoff is over.
pub fn settled(outgoing: &Assignment, now: DateTime<Utc>) -> bool {
    outgoing.until.is_some_and(|t| now > t + SETTLE)
}

/// When the next look at the jobs is due for the handoffs: right after this pass if it
/// settles one (the jobs it held may move again: a rebalance leaves a job alone while it is in
/// a handoff), at this pass's handoff time if it planned `MAX_PER_PASS` (the next batch), else
/// when the earliest under way (on a live worker, or planned now) settles.
pub fn next_settle(observed: &Observed, ops: &[Op]) -> Option<DateTime<Utc>> {
    let soon = observed.now + Duration::milliseconds(100);
    let observed_ones = observed
        .assignments
        .iter()
        .filter(|(w, _)| observed.live.contains_key(*w))
        .flat_map(|(_, jobs)| jobs.values())
        .filter_map(|a| a.until);
    let planned = ops.iter().filter_map(|op| match op {
        Op::Handoff { at, .. } => Some(*at),
        _ => None,
    });
    // A full pass: the next plans more once this one's old holders have had their lead to
    // read their `until`s (at the handoffs' time).
    let more = ops
        .iter()
        .filter(|op| matches!(op, Op::Handoff { .. }))
        .count()
        >= MAX_PER_PASS;
    let next_batch = ops.iter().find_map(|op| match op {
        Op::Handoff { at, .. } if more => Some((*at).max(soon)),
        _ => None,
    });
    observed_ones
        .chain(planned)
        .map(|t| (t + SETTLE + Duration::milliseconds(100)).max(soon))
        .chain(next_batch)
        .min()
}

/// The handoffs of this plan: drained workers' jobs, then the rebalance; each counted in
/// `placement` against its new holder.
pub fn handoffs(
    movable: Vec<Movable<'_>>,
    observed: &Observed,
    placement: &mut Placement,
) -> Vec<Op> {
    let at = handoff_time(observed.now);
    let mut ops = Vec::new();
    let mut by_worker: BTreeMap<String, Vec<Movable<'_>>> = BTreeMap::new();
    for m in movable {
        if ops.len() >= MAX_PER_PASS {
            return ops;
        }
        if observed.drained.contains(&m.from) {
            if let Some(to) = placement.take(m.job, &m.from, &m.task.spec.resources, None) {
                ops.push(handoff(m, to, at));
            }
        } else {
            by_worker.entry(m.from.clone()).or_default().push(m);
        }
    }
    if !observed.rebalance {
        return ops;
    }
    // From the most loaded worker that has a job to give, to the least loaded that can take
    // it, while they differ by more than one.
    while ops.len() < MAX_PER_PASS {
        let source = by_worker
            .iter()
            .filter(|(_, jobs)| !jobs.is_empty())
            .max_by_key(|(w, _)| {
                (
                    placement.load.get(*w).copied().unwrap_or(0),
                    std::cmp::Reverse((*w).clone()),
                )
            })
            .map(|(w, _)| w.clone());
        let Some(source) = source else { break };
        let load = placement.load.get(&source).copied().unwrap_or(0);
        let jobs = by_worker.get_mut(&source).expect("the source's jobs");
        let m = jobs.pop().expect("a job to give");
        match placement.take(
            m.job,
            &source,
            &m.task.spec.resources,
            Some(load.saturating_sub(1)),
        ) {
            Some(to) => ops.push(handoff(m, to, at)),
            None if placement.least_load().is_some_and(|l| l + 1 >= load) => break,
            None => {} // this job fits nowhere less loaded: try the source's next one
        }
    }
    ops
}

fn handoff(m: Movable<'_>, to: String, at: DateTime<Utc>) -> Op {
    tracing::debug!(job_id = %m.job, from = %m.from, %to, %at, "handing a job off");
    Op::Handoff {
        job: m.job,
        from: m.from,
        to,
        at,
        held: Assignment {
            until: Some(at),
            ..m.held
        },
    }
}
