//! How decided ticks become processes. A launch writes the rows of an instant (one statement
//! per chunk, a few chunks in flight), waits for the instant, locks the jobs' rows for the
//! start (`StartCheck`: a job taken off the schedule meanwhile is seen as such, and a delete
//! waits until the processes are started), starts the runs and reports back to the scheduler.
//! Each launch is a task of its own, so the scheduler keeps taking commands and ticks while
//! it waits for its instant. Retries take the same way, claimed instead of inserted.

use crate::exec::RunSpec;
use crate::inflight::InFlight;
use crate::recorder::{Record, Recorder};
use crate::runner::{Runner, not_startable};
use chrono::{DateTime, Utc};
use distcron_core::payload::JobTask;
use distcron_core::{JobId, RunId, RunStatus};
use distcron_store::{Claimant, NewRun, PendingRetry, RunEnd, StartCheck, Store, Tick};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Ticks per claim statement; the first processes start as soon as the first chunk is written.
const CLAIM_CHUNK: usize = 250;
/// Claims in flight at once: enough to overlap writing with starting, few enough to leave the
/// connection pool to the recorder and the leases.
const CLAIMS_IN_FLIGHT: usize = 3;
/// How long before an instant its jobs' rows are locked, so that the lock's round trips do
/// not delay the processes (a few milliseconds for hundreds of jobs when the machine is idle,
/// some tens for thousands); a delete of one of them waits this much longer at most.
const CHECK_LEAD: chrono::Duration = chrono::Duration::milliseconds(50);
/// Attempts at the start check before the runs are given up as interrupted.
const CHECK_ATTEMPTS: u32 = 3;

/// A tick and what to do with it.
pub struct Planned {
    pub task: Arc<JobTask>,
    pub row: NewRun,
    /// The job's tick before this one (its cursor), to go back to if this row cannot be
    /// written.
    pub prev_cursor: DateTime<Utc>,
}

/// What became of a launch, for the scheduler.
#[derive(Debug, Default)]
pub struct Report {
    /// The jobs the launch was for.
    pub jobs: Vec<JobId>,
    /// Jobs whose rows could not be written, with the cursor to go back to: their ticks are to
    /// be looked at again.
    pub rolled_back: Vec<(JobId, DateTime<Utc>)>,
    /// Retries that could not be claimed: to try again.
    pub retries_failed: Vec<PendingRetry>,
}

/// What the start checks cost, for the status page and the benchmark: the time to take the
/// locks (ahead of the instant) and to let them go (after the starts), apart.
#[derive(Default)]
pub struct StartStats {
    pub checks: AtomicU64,
    pub runs: AtomicU64,
    pub lock_micros: AtomicU64,
    pub release_micros: AtomicU64,
}

impl StartStats {
    pub fn json(&self) -> serde_json::Value {
        let seconds = |v: &AtomicU64| v.load(Ordering::Relaxed) as f64 / 1e6;
        serde_json::json!({
            "checks": self.checks.load(Ordering::Relaxed),
            "runs": self.runs.load(Ordering::Relaxed),
            "lock_seconds": seconds(&self.lock_micros),
            "release_seconds": seconds(&self.release_micros),
        })
    }

    fn add(&self, runs: u64, lock: Duration, release: Duration) {
        self.checks.fetch_add(1, Ordering::Relaxed);
        self.runs.fetch_add(runs, Ordering::Relaxed);
        self.lock_micros
            .fetch_add(lock.as_micros() as u64, Ordering::Relaxed);
        self.release_micros
            .fetch_add(release.as_micros() as u64, Ordering::Relaxed);
    }
}

/// A claimed run.
struct Start {
    task: Arc<JobTask>,
    id: RunId,
    /// Its tick.
    at: DateTime<Utc>,
    attempt: u16,
}

pub struct Launcher {
    pub store: Store,
    pub claimant: Claimant,
    pub recorder: Recorder,
    pub inflight: Arc<InFlight>,
    pub runner: Arc<Runner>,
    pub stats: Arc<StartStats>,
}

fn instant_for(at: DateTime<Utc>) -> tokio::time::Instant {
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

/// A chunk of rows and the task claiming them.
type PendingClaim = (
    Vec<Planned>,
    tokio::task::JoinHandle<distcron_store::Result<HashMap<Tick, (RunId, RunStatus)>>>,
);

impl Launcher {
    /// Writes the rows of `planned` and starts each claimed run at its tick, chunk after chunk.
    pub async fn launch(self: Arc<Self>, mut planned: Vec<Planned>) -> Report {
        planned.sort_by_key(|p| p.row.scheduled_at);
        let mut report = Report {
            jobs: planned
                .iter()
                .map(|p| p.task.id)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect(),
            ..Report::default()
        };
        self.inflight.hold(planned.iter().map(|p| p.row.id));
        let permits = Arc::new(tokio::sync::Semaphore::new(CLAIMS_IN_FLIGHT));
        let mut claims = VecDeque::new();
        let mut rest = planned.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<Planned> = rest.by_ref().take(CLAIM_CHUNK).collect();
            let rows: Vec<NewRun> = chunk.iter().map(|p| p.row.clone()).collect();
            let (store, claimant, permits) =
                (self.store.clone(), self.claimant.clone(), permits.clone());
            let claim = tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                store.claim_runs(&rows, &claimant).await
            });
            claims.push_back((chunk, claim));
        }
        // Jobs whose ticks went back to be looked at again after a failed chunk: their rows in
        // later chunks are decided then, not now (starting one now and again on the retry,
        // which finds the row as this worker's own, would run it twice).
        let mut rolled_back: HashSet<JobId> = HashSet::new();
        while let Some(first) = claims.pop_front() {
            let (mut starts, mut held) = self.settle(first, &mut rolled_back, &mut report).await;
            // Every chunk whose claim is done by the time of the start check joins it: the
            // instant's runs are checked together, ahead of their time, and then start back to
            // back (the claims are usually all done well before).
            if let Some(first) = starts.first() {
                sleep_until(first.at - CHECK_LEAD).await;
            }
            while claims.front().is_some_and(|(_, c)| c.is_finished()) {
                if let Some(next) = claims.pop_front() {
                    let (more, more_held) = self.settle(next, &mut rolled_back, &mut report).await;
                    starts.extend(more);
                    held.extend(more_held);
                }
            }
            self.start_at_their_time(starts).await;
            self.inflight.release(held);
        }
        report
    }

    /// Waits for a chunk's claim and decides each of its rows: a start, a record (a row of
    /// this worker's found decided otherwise), nothing (someone else's), or, if the claim
    /// failed, a tick to look at again. Returns the starts and the rows held meanwhile.
    async fn settle(
        &self,
        (chunk, claim): PendingClaim,
        rolled_back: &mut HashSet<JobId>,
        report: &mut Report,
    ) -> (Vec<Start>, Vec<RunId>) {
        let mut held: Vec<RunId> = chunk.iter().map(|p| p.row.id).collect();
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
                return (Vec::new(), held);
            }
        };
        let mut starts = Vec::new();
        for p in chunk {
            if rolled_back.contains(&p.task.id) {
                continue;
            }
            let tick = (p.row.job_id, p.row.scheduled_at, p.row.attempt);
            match (owned.get(&tick), p.row.status) {
                (None, RunStatus::Running) => {
                    tracing::info!(job_id = %p.task.id, scheduled_at = %p.row.scheduled_at, "tick already claimed elsewhere; not starting it");
                }
                // A row of this worker's that another launch holds (or runs) is that launch's
                // to start.
                (Some((id, _)), _) if *id != p.row.id && self.inflight.holds(id) => {}
                (Some((id, RunStatus::Running)), RunStatus::Running) => {
                    self.inflight.hold([*id]);
                    held.push(*id);
                    starts.push(Start {
                        task: p.task,
                        id: *id,
                        at: p.row.scheduled_at,
                        attempt: p.row.attempt,
                    });
                }
                // Written as running by an earlier attempt whose answer was lost, and now
                // decided otherwise (it is late): record that decision.
                (Some((id, RunStatus::Running)), _) => {
                    let spec = RunSpec {
                        run_id: *id,
                        task: p.task,
                        scheduled_at: p.row.scheduled_at,
                        attempt: p.row.attempt,
                    };
                    let reason = p
                        .row
                        .reason
                        .unwrap_or_else(|| distcron_core::run::skip::MISFIRE.to_string());
                    self.recorder.record(Record::new(
                        &spec,
                        RunEnd::not_started(p.row.status, reason),
                    ));
                }
                _ => {}
            }
        }
        (starts, held)
    }

    /// Claims retries whose time has come and starts those this worker took.
    pub async fn launch_retries(self: Arc<Self>, due: Vec<(Arc<JobTask>, PendingRetry)>) -> Report {
        let ids: Vec<RunId> = due.iter().map(|(_, r)| r.id).collect();
        self.inflight.hold(ids.iter().copied());
        let mut report = Report::default();
        match self.store.claim_retries(&ids, &self.claimant).await {
            Ok(taken) => {
                let starts: Vec<Start> = due
                    .into_iter()
                    .filter(|(_, r)| taken.contains(&r.id))
                    .map(|(task, r)| {
                        tracing::info!(job_id = %r.job_id, attempt = r.attempt, scheduled_at = %r.scheduled_at, "starting a retry");
                        Start {
                            task,
                            id: r.id,
                            at: r.scheduled_at,
                            attempt: r.attempt,
                        }
                    })
                    .collect();
                self.start_now(
                    starts
                        .into_iter()
                        .map(|s| (s, None::<DateTime<Utc>>))
                        .collect(),
                )
                .await;
            }
            Err(e) => {
                tracing::warn!(error = %e, retries = ids.len(), "cannot claim retries; trying again shortly");
                report.retries_failed = due.into_iter().map(|(_, r)| r).collect();
            }
        }
        self.inflight.release(ids);
        report
    }

    /// Starts claimed runs at their tick (rows are written up to the claim lead early), an
    /// instant at a time.
    async fn start_at_their_time(&self, starts: Vec<Start>) {
        let mut rest = starts.into_iter().peekable();
        while let Some(first) = rest.peek() {
            let at = first.at;
            let mut group = Vec::new();
            while let Some(s) = rest.next_if(|s| s.at == at) {
                group.push((s, Some(at)));
            }
            sleep_until(at - CHECK_LEAD).await;
            self.start_now(group).await;
        }
    }

    /// Locks the jobs' rows, waits for the instant to start at (if one is given: ticks start at
    /// their time, retries at once), starts the runs of jobs still on their schedule and
    /// records the others, then lets go of the locks.
    async fn start_now(&self, group: Vec<(Start, Option<DateTime<Utc>>)>) {
        if group.is_empty() {
            return;
        }
        let jobs: Vec<JobId> = group.iter().map(|(s, _)| s.task.id).collect();
        let began = Instant::now();
        let check = match self.check(&jobs).await {
            Ok(check) => check,
            Err(e) => {
                for (s, _) in group {
                    self.recorder.record(Record::new(
                        &spec_of(&s),
                        RunEnd::not_started(
                            RunStatus::Interrupted,
                            format!(
                                "not started: cannot confirm the job is still on its schedule: {e}"
                            ),
                        ),
                    ));
                }
                return;
            }
        };
        let checked = began.elapsed();
        if let Some(at) = group.first().and_then(|(_, at)| *at) {
            sleep_until(at).await;
        }
        let n = group.len() as u64;
        let start_all = || {
            for (s, _) in group {
                let spec = spec_of(&s);
                if check.may_start(&s.task.id) {
                    self.runner.start(spec);
                } else {
                    tracing::info!(job_id = %s.task.id, scheduled_at = %s.at, "the job is off its schedule; not starting its run");
                    self.recorder
                        .record(Record::new(&spec, not_startable(check.status(&s.task.id))));
                }
            }
        };
        // The process starts are synchronous forks and execs, done in a burst: off the
        // runtime's scheduling where it can be (a multi-threaded runtime); inline on a
        // current-thread runtime, which has nowhere else to run other tasks anyway.
        match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::CurrentThread => start_all(),
            _ => tokio::task::block_in_place(start_all),
        }
        let released = Instant::now();
        if let Err(e) = check.release().await {
            tracing::debug!(error = %e, "releasing a start check");
        }
        self.stats.add(n, checked, released.elapsed());
    }

    /// The start check, tried a few times: a deadlock or a brief outage should not cost the
    /// instant its runs.
    async fn check(&self, jobs: &[JobId]) -> distcron_store::Result<StartCheck> {
        let mut attempt = 1;
        loop {
            match self.store.check_for_start(jobs).await {
                Ok(check) => return Ok(check),
                Err(e) if attempt < CHECK_ATTEMPTS && e.is_unavailable() => {
                    tracing::debug!(error = %e, attempt, "start check failed; trying again");
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn spec_of(s: &Start) -> RunSpec {
    RunSpec {
        run_id: s.id,
        task: s.task.clone(),
        scheduled_at: s.at,
        attempt: s.attempt,
    }
}
