//! The scheduler: a deadline set plus a wake-up. It holds the jobs assigned to this worker and
//! the retries waiting for it, and moves each tick through the same stages, in this order:
//!
//! 1. `assign.rs`: commands from the session: jobs assigned, changed, taken away;
//! 2. `adopt.rs`: a job taken over is read from MySQL (where its ticks stand) in an owned
//!    task that retries with backoff, and then queued;
//! 3. `queue.rs`: the deadline queue, keyed on the injected clock (`crate::clock`);
//!    `take_due` pops what has come due;
//! 4. `claim.rs`: `claim_ticks` decides every due tick (run, or skipped with a reason, the
//!    pure rules of `crate::ticks`) and hands the rows to a launch;
//! 5. the backend (`backend.rs`) launches them (`crate::launch`: the rows are written, then
//!    each run starts at its instant, `crate::runner::Runner::start_run`, in a run task).
//!
//! A job is in at most one launch at a time: its next instant waits for the launch to report,
//! so that a tick whose row could not be written is looked at again before any later one.
//! Every task the scheduler starts (launches, adoptions, re-reads, prefetches) is in a set it
//! owns: none outlives it.

mod adopt;
mod assign;
pub mod backend;
mod claim;
mod orphans;
mod queue;
mod standing;
#[cfg(test)]
mod tests;

use crate::clock::Clock;
use crate::gate::Gate;
use crate::inflight::InFlight;
use crate::launch::Report;
use crate::recorder::Recorder;
use backend::{Backend, Foreign};
use chrono::{DateTime, Utc};
use distcron_core::payload::{Assignment, JobTask};
use distcron_core::{JobId, RunId};
use distcron_store::PendingRetry;
use queue::{Due, JobState};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A task assigned to this worker, with its assignment (where it stands in a handoff).
#[derive(Clone, Debug)]
pub struct Assigned {
    pub task: JobTask,
    pub assignment: Assignment,
}

pub enum Command {
    /// Every task assigned to this worker, after the session (re)started. `fresh`: a new
    /// session, so ownership may have lapsed and every job is adopted anew from MySQL.
    Reconcile {
        tasks: Vec<Assigned>,
        fresh: bool,
        done: oneshot::Sender<()>,
    },
    /// A task was assigned, or its definition or assignment changed.
    Upsert(Box<Assigned>),
    /// A task was taken away.
    Remove(JobId),
    /// This worker's rows MySQL has as `running`, claimed a while ago: those that are neither
    /// in hand nor waiting to be recorded were never started, and are interrupted.
    Orphans(Vec<(RunId, JobId, DateTime<Utc>, u16)>),
}

/// What MySQL says about a job this worker takes over.
pub struct Adoption {
    pub job: JobId,
    pub last: Option<DateTime<Utc>>,
    pub foreign: Vec<RunId>,
    pub retries: Vec<PendingRetry>,
}

/// What the scheduler works with.
pub struct Deps {
    pub backend: Arc<dyn Backend>,
    pub clock: Arc<dyn Clock>,
    pub recorder: Recorder,
    pub inflight: Arc<InFlight>,
    pub gate: Arc<Gate>,
    /// A lone tick later than this is a misfire, handled by the job's policy.
    pub misfire_threshold: Duration,
    /// How long before a tick its run rows are written.
    pub claim_lead: Duration,
}

/// A background task of the scheduler's, and what it brings back.
enum Chore {
    Adopted(Vec<Adoption>),
    /// A handoff's time has come: the job can be adopted.
    HandoffDue(JobId),
    Foreign(Foreign),
    Done,
}

pub struct Scheduler {
    deps: Deps,
    misfire_threshold: chrono::Duration,
    claim_lead: chrono::Duration,
    jobs: HashMap<JobId, JobState>,
    queue: BTreeSet<(DateTime<Utc>, Due)>,
    retries: HashMap<RunId, PendingRetry>,
    /// Jobs with a launch going, and the jobs of each launch task.
    launching: HashSet<JobId>,
    launches: JoinSet<Report>,
    launch_jobs: HashMap<tokio::task::Id, Vec<JobId>>,
    /// Jobs assigned again while a launch of theirs was going: adopted once it reports.
    adopt_after_launch: HashSet<JobId>,
    /// Jobs to adopt together (assigned within a few milliseconds of each other), and when.
    to_adopt: Vec<JobId>,
    adopt_at: Option<tokio::time::Instant>,
    chores: JoinSet<Chore>,
    blocked_by_gate: Option<String>,
}

/// How soon a tick whose row could not be written, or a retry that could not be claimed, is
/// tried again.
const RETRY_AFTER: chrono::Duration = chrono::Duration::seconds(1);

impl Scheduler {
    pub fn new(deps: Deps) -> Scheduler {
        Scheduler {
            misfire_threshold: chrono::Duration::from_std(deps.misfire_threshold)
                .unwrap_or(chrono::Duration::seconds(2)),
            claim_lead: chrono::Duration::from_std(deps.claim_lead).unwrap_or_default(),
            deps,
            jobs: HashMap::new(),
            queue: BTreeSet::new(),
            retries: HashMap::new(),
            launching: HashSet::new(),
            launches: JoinSet::new(),
            launch_jobs: HashMap::new(),
            adopt_after_launch: HashSet::new(),
            to_adopt: Vec::new(),
            adopt_at: None,
            chores: JoinSet::new(),
            blocked_by_gate: None,
        }
    }

    pub async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Command>,
        mut retries: mpsc::UnboundedReceiver<Vec<PendingRetry>>,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut gate_changes = self.deps.gate.subscribe();
        loop {
            let clock = &self.deps.clock;
            let deadline = self.queue.first().map(|(t, _)| clock.instant_for(*t));
            let blocked = self.blocked_by_gate.is_some();
            let now = tokio::time::Instant::now();
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                Some(done) = self.launches.join_next_with_id(), if !self.launches.is_empty() => {
                    self.launched(done);
                }
                Some(chore) = self.chores.join_next(), if !self.chores.is_empty() => {
                    self.chore_done(chore);
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or(now)),
                    if deadline.is_some() && !blocked => self.claim_ticks(),
                _ = tokio::time::sleep_until(self.adopt_at.unwrap_or(now)),
                    if self.adopt_at.is_some() => self.start_adoption(),
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.handle(cmd),
                    None => break,
                },
                Some(due) = retries.recv() => {
                    for r in due {
                        self.schedule_retry(r);
                    }
                }
                // Closed by staleness, the gate reopens when ZooKeeper answers again, which
                // notifies; the poll is a backstop.
                _ = gate_changes.changed(), if blocked => self.retry_gate(),
                _ = tokio::time::sleep(Duration::from_millis(100)), if blocked => self.retry_gate(),
            }
        }
        // Launches going decide their rows (the gate is shut by now, so they start nothing):
        // give them a moment rather than leave claimed rows to the orphan sweep.
        let settle = async { while self.launches.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(5), settle)
            .await
            .is_err()
        {
            tracing::warn!("launches still going at shutdown; abandoning them");
        }
        Ok(())
    }

    fn retry_gate(&mut self) {
        if self.deps.gate.is_open()
            && let Some(reason) = self.blocked_by_gate.take()
        {
            tracing::info!(was = %reason, "launching again");
        }
    }

    fn chore_done(&mut self, chore: Result<Chore, tokio::task::JoinError>) {
        match chore {
            Ok(Chore::Adopted(adoptions)) => self.adopted(adoptions),
            Ok(Chore::Foreign(by_job)) => {
                let now = self.deps.clock.now();
                for (job, runs) in by_job {
                    if let Some(state) = self.jobs.get_mut(&job) {
                        state.foreign = runs;
                        state.foreign_read_at = now;
                    }
                }
            }
            Ok(Chore::HandoffDue(job)) => {
                if self.jobs.get(&job).is_some_and(|s| s.cursor.is_none()) {
                    self.adopt(vec![job]);
                }
            }
            Ok(Chore::Done) => {}
            Err(e) => tracing::error!(error = %e, "a scheduler task failed"),
        }
    }
}
