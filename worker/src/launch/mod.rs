//! How decided ticks become processes. A launch writes the rows of an instant (one statement
//! per chunk, a few chunks in flight), waits for the instant, locks the jobs' rows for the
//! start (`start.rs`: a job taken off the schedule meanwhile is seen as such, and a delete
//! waits until the processes are started), starts the runs and reports back to the scheduler.
//! Each launch is a task of its own, so the scheduler keeps taking commands and ticks while it
//! waits for its instant. Retries take the same way, claimed instead of inserted. The rows a
//! launch claims are held (`inflight::Hold`) from before the claim until each is started or
//! recorded, so the orphan sweep never takes one.

mod start;

pub use start::StartStats;

use crate::exec::RunSpec;
use crate::inflight::{Hold, InFlight};
use crate::recorder::{Record, Recorder};
use crate::runner::Runner;
use chrono::{DateTime, Utc};
use distcron_core::payload::JobTask;
use distcron_core::{JobId, RunId, RunStatus};
use distcron_core::{NewRun, RunEnd};
use distcron_store::{Claimant, PendingRetry, Store, Tick};
use start::Start;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use tokio_util::task::AbortOnDropHandle;

/// Ticks per claim statement; the first processes start as soon as the first chunk is written.
const CLAIM_CHUNK: usize = 250;
/// Claims in flight at once: enough to overlap writing with starting, few enough to leave the
/// connection pool to the recorder and the leases.
const CLAIMS_IN_FLIGHT: usize = 3;

/// A tick and what to do with it.
pub struct Planned {
    pub task: Arc<JobTask>,
    pub row: NewRun,
    /// The job's tick before this one (its cursor), to go back to if this row cannot be
    /// written.
    pub prev_cursor: DateTime<Utc>,
}

/// A retry (or a run asked for now, outside the schedule) whose time has come.
pub struct DueRetry {
    pub task: Arc<JobTask>,
    pub retry: PendingRetry,
    /// Why it is not to run once claimed (a manual run of a `forbid` job with a run under
    /// way): it is recorded `skipped` with this reason.
    pub skip: Option<&'static str>,
}

/// What became of a launch, for the scheduler.
#[derive(Debug, Default)]
pub struct Report {
    /// Jobs whose rows could not be written, with the cursor to go back to: their ticks are to
    /// be looked at again.
    pub rolled_back: Vec<(JobId, DateTime<Utc>)>,
    /// Retries that could not be claimed: to try again.
    pub retries_failed: Vec<PendingRetry>,
}

pub struct Launcher {
    pub store: Store,
    pub claimant: Claimant,
    pub recorder: Recorder,
    pub inflight: Arc<InFlight>,
    pub runner: Arc<Runner>,
    pub stats: Arc<StartStats>,
}

/// The moment of the tokio clock at which the wall clock reads `at` (now, if it has passed).
pub fn instant_for(at: DateTime<Utc>) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    match (at - Utc::now()).to_std() {
        Ok(d) => now + d,
        Err(_) => now,
    }
}

async fn sleep_until(at: DateTime<Utc>) {
    let when = instant_for(at);
    if when > tokio::time::Instant::now() {
        tokio::time::sleep_until(when).await;
    }
}

/// A chunk of rows and the task claiming them, owned by its launch: a launch that is dropped
/// (the scheduler ending) aborts its claims instead of leaving them running.
type PendingClaim = (
    Vec<Planned>,
    AbortOnDropHandle<distcron_store::Result<HashMap<Tick, (RunId, RunStatus)>>>,
);

impl Launcher {
    /// Writes the rows of `planned` (held by `hold`) and starts each claimed run at its tick.
    pub async fn launch(self: Arc<Self>, mut planned: Vec<Planned>, mut hold: Hold) -> Report {
        planned.sort_by_key(|p| p.row.scheduled_at);
        let mut report = Report::default();
        let permits = Arc::new(tokio::sync::Semaphore::new(CLAIMS_IN_FLIGHT));
        let mut claims = VecDeque::new();
        let mut rest = planned.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<Planned> = rest.by_ref().take(CLAIM_CHUNK).collect();
            let rows: Vec<NewRun> = chunk.iter().map(|p| p.row.clone()).collect();
            let (store, claimant, permits) =
                (self.store.clone(), self.claimant.clone(), permits.clone());
            let claim = AbortOnDropHandle::new(tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                store.claim_runs(&rows, &claimant).await
            }));
            claims.push_back((chunk, claim));
        }
        // Jobs whose ticks went back to be looked at again after a failed chunk: their rows in
        // later chunks are decided then, not now (starting one now and again on the retry,
        // which finds the row as this worker's own, would run it twice).
        let mut rolled_back: HashSet<JobId> = HashSet::new();
        while let Some(first) = claims.pop_front() {
            let mut starts = self
                .settle(first, &mut hold, &mut rolled_back, &mut report)
                .await;
            // Every chunk whose claim is done by the time of the start check joins it: the
            // instant's runs are checked together, ahead of their time, and then start back to
            // back (the claims are usually all done well before).
            if let Some(first) = starts.first() {
                sleep_until(first.at - start::CHECK_LEAD).await;
            }
            while claims.front().is_some_and(|(_, c)| c.is_finished()) {
                if let Some(next) = claims.pop_front() {
                    starts.extend(
                        self.settle(next, &mut hold, &mut rolled_back, &mut report)
                            .await,
                    );
                }
            }
            self.start_at_their_time(starts).await;
        }
        report
    }

    /// Waits for a chunk's claim and decides each of its rows: a start, a record (a row of
    /// this worker's found decided otherwise), nothing (someone else's), or, if the claim
    /// failed, a tick to look at again.
    async fn settle(
        &self,
        (chunk, claim): PendingClaim,
        hold: &mut Hold,
        rolled_back: &mut HashSet<JobId>,
        report: &mut Report,
    ) -> Vec<Start> {
        let result = match claim.await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(e) => Err(format!("the claim task failed: {e}")),
        };
        let owned = match result {
            Ok(owned) => owned,
            Err(e) => {
                // Whether this chunk was written is unknown; nothing of it may run now. Its
                // ticks are looked at again shortly: the claim then finds any row written
                // here as this worker's own, and the misfire policy decides.
                tracing::warn!(error = %e, ticks = chunk.len(), "cannot write run rows; retrying these ticks");
                for p in chunk {
                    // Rows are in time order: a job's first row here (or in an earlier failed
                    // chunk) has its earliest cursor.
                    if rolled_back.insert(p.task.id) {
                        report.rolled_back.push((p.task.id, p.prev_cursor));
                    }
                }
                return Vec::new();
            }
        };
        let mut starts = Vec::new();
        for p in chunk {
            if rolled_back.contains(&p.task.id) {
                continue;
            }
            let tick = (p.row.job_id, p.row.scheduled_at, p.row.attempt);
            let Some(&(id, status)) = owned.get(&tick) else {
                if p.row.status == RunStatus::Running {
                    tracing::info!(job_id = %p.task.id, scheduled_at = %p.row.scheduled_at, "tick already claimed elsewhere; not starting it");
                }
                continue;
            };
            // A row of this worker's written by an earlier claim whose answer was lost is this
            // launch's only if nobody else has it in hand (another launch, a run, the sweep).
            if id != p.row.id && !hold.add(id) {
                continue;
            }
            match (status, p.row.status) {
                (RunStatus::Running, RunStatus::Running) => starts.push(Start {
                    task: p.task,
                    id,
                    at: p.row.scheduled_at,
                    attempt: p.row.attempt,
                }),
                // Written as running by that earlier claim, and now decided otherwise (it is
                // late): record the decision.
                (RunStatus::Running, decided) => {
                    let spec = RunSpec {
                        run_id: id,
                        task: p.task,
                        scheduled_at: p.row.scheduled_at,
                        attempt: p.row.attempt,
                    };
                    let reason = p
                        .row
                        .reason
                        .unwrap_or_else(|| distcron_core::run::skip::MISFIRE.to_string());
                    self.recorder
                        .record(Record::new(&spec, RunEnd::not_started(decided, reason)));
                }
                _ => {}
            }
        }
        starts
    }

    /// Claims retries whose time has come (held by `hold`) and starts those this worker took.
    pub async fn launch_retries(self: Arc<Self>, due: Vec<DueRetry>, _hold: Hold) -> Report {
        let ids: Vec<RunId> = due.iter().map(|d| d.retry.id).collect();
        let claim = self.store.claim_retries(&ids, &self.claimant).await;
        if let Some(e) = &claim.error {
            tracing::warn!(error = %e, retries = claim.again.len(), "cannot claim retries; trying again shortly");
        }
        let again: HashSet<RunId> = claim.again.iter().copied().collect();
        let mut report = Report::default();
        let mut starts = Vec::new();
        for DueRetry {
            task,
            retry: r,
            skip,
        } in due
        {
            if claim.taken.contains(&r.id) {
                let start = Start {
                    task,
                    id: r.id,
                    at: r.scheduled_at,
                    attempt: r.attempt,
                };
                if let Some(reason) = skip {
                    tracing::info!(job_id = %r.job_id, scheduled_at = %r.scheduled_at, reason, "not starting a manual run");
                    self.recorder.record(Record::new(
                        &start.spec(),
                        RunEnd::not_started(RunStatus::Skipped, reason),
                    ));
                    continue;
                }
                tracing::info!(job_id = %r.job_id, attempt = r.attempt, scheduled_at = %r.scheduled_at, manual = r.triggered_by.is_some(), "starting a retry or a manual run");
                starts.push(start);
            } else if again.contains(&r.id) {
                report.retries_failed.push(r);
            }
        }
        self.start_now(starts, None).await;
        report
    }
}
