//! The start of claimed runs: at their instant, under the start check (a share lock on their
//! jobs' rows, `store::StartCheck`), so that a job taken off the schedule either is seen as
//! such, and its runs are recorded skipped, or its change waits until the processes are
//! started. Rows another transaction is changing at the moment of the check are not waited for
//! with the others: the others start, and those are checked again on their own.

use super::{Launcher, sleep_until};
use crate::exec::RunSpec;
use crate::recorder::Record;
use crate::runner::{killed_before_start, not_startable};
use chrono::{DateTime, Utc};
use distcron_core::RunEnd;
use distcron_core::payload::JobTask;
use distcron_core::{JobId, RunId, RunStatus};
use distcron_store::StartCheck;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long before an instant its jobs' rows are locked, so that the lock's round trips do
/// not delay the processes (a few milliseconds for hundreds of jobs when the machine is idle,
/// some tens for thousands).
pub(super) const CHECK_LEAD: chrono::Duration = chrono::Duration::milliseconds(50);
/// Attempts at a start check before its runs are given up as interrupted.
const CHECK_ATTEMPTS: u32 = 3;

/// A claimed run.
pub(super) struct Start {
    pub task: Arc<JobTask>,
    pub id: RunId,
    /// Its tick.
    pub at: DateTime<Utc>,
    pub attempt: u16,
}

impl Start {
    pub(super) fn spec(&self) -> RunSpec {
        RunSpec {
            run_id: self.id,
            task: self.task.clone(),
            scheduled_at: self.at,
            attempt: self.attempt,
        }
    }
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

impl Launcher {
    /// Starts claimed runs at their tick (rows are written up to the claim lead early), an
    /// instant at a time.
    pub(super) async fn start_at_their_time(&self, starts: Vec<Start>) {
        let mut rest = starts.into_iter().peekable();
        while let Some(first) = rest.peek() {
            let at = first.at;
            let mut group = Vec::new();
            while let Some(s) = rest.next_if(|s| s.at == at) {
                group.push(s);
            }
            sleep_until(at - CHECK_LEAD).await;
            self.start_now(group, Some(at)).await;
        }
    }

    /// Checks the runs' jobs, waits for `at` (if given: ticks start at their time, retries
    /// at once), starts the runs of jobs still on their schedule and records the others. Jobs
    /// whose rows were busy are checked again, waiting for their rows, and started after.
    pub(super) async fn start_now(&self, group: Vec<Start>, at: Option<DateTime<Utc>>) {
        if group.is_empty() {
            return;
        }
        let jobs: Vec<JobId> = group.iter().map(|s| s.task.id).collect();
        let Some(check) = self.check(group.as_slice(), &jobs, false).await else {
            return;
        };
        if let Some(at) = at {
            sleep_until(at).await;
        }
        let busy: HashSet<JobId> = check.busy().iter().copied().collect();
        let (later, now): (Vec<Start>, Vec<Start>) =
            group.into_iter().partition(|s| busy.contains(&s.task.id));
        self.start_checked(now, check).await;
        if later.is_empty() {
            return;
        }
        let busy: Vec<JobId> = busy.into_iter().collect();
        tracing::debug!(
            jobs = busy.len(),
            "start check: waiting for job rows being changed"
        );
        if let Some(check) = self.check(later.as_slice(), &busy, true).await {
            self.start_checked(later, check).await;
        }
    }

    /// The start check (waiting for busy rows or not), tried a few times: a deadlock or a
    /// brief outage should not cost the runs. Given up, the runs are recorded interrupted (and
    /// retried by the job's rules).
    async fn check(&self, group: &[Start], jobs: &[JobId], wait: bool) -> Option<StartCheck> {
        let began = Instant::now();
        let mut attempt = 1;
        let outcome = loop {
            let result = if wait {
                self.store.check_for_start_waiting(jobs).await
            } else {
                self.store.check_for_start(jobs).await
            };
            match result {
                Ok(check) => break Ok(check),
                Err(e) if attempt < CHECK_ATTEMPTS && e.is_unavailable() => {
                    tracing::debug!(error = %e, attempt, "start check failed; trying again");
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                    attempt += 1;
                }
                Err(e) => break Err(e),
            }
        };
        self.stats
            .lock_micros
            .fetch_add(began.elapsed().as_micros() as u64, Ordering::Relaxed);
        match outcome {
            Ok(check) => Some(check),
            Err(e) => {
                tracing::warn!(error = %e, runs = group.len(), "cannot check the jobs before starting their runs; recording them interrupted");
                for s in group {
                    self.recorder.record(Record::new(
                        &s.spec(),
                        RunEnd::not_started(
                            RunStatus::Interrupted,
                            format!(
                                "not started: cannot confirm the job is still on its schedule: {e}"
                            ),
                        ),
                    ));
                }
                None
            }
        }
    }

    /// Starts the runs `check` allows and records the others, then lets the locks go.
    async fn start_checked(&self, group: Vec<Start>, check: StartCheck) {
        let n = group.len() as u64;
        let start_all = || {
            for s in &group {
                let spec = s.spec();
                if let Some(reason) = self.inflight.take_killed_claim(&s.id) {
                    tracing::info!(run_id = %s.id, reason, "killed before its start; not starting it");
                    self.recorder
                        .record(Record::new(&spec, killed_before_start(&reason)));
                } else if check.may_start(&s.task.id) {
                    self.runner.start_run(spec);
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
            // The server ended the transaction (and its locks) on its own: a delete may have
            // gone ahead during the starts.
            tracing::warn!(error = %e, runs = n, "the start check's transaction ended in error");
        }
        self.stats.add(n, Duration::ZERO, released.elapsed());
    }
}
