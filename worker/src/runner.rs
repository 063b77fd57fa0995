//! Starting one claimed run and following it to its recorded end. The caller has checked the
//! job (it holds the `StartCheck` of the instant); a run whose executable is not cached yet is
//! fetched first and checked again on its own, so that nothing starts after its job was taken
//! off the schedule, however long the download took.

use crate::cache::BlobCache;
use crate::exec::{Executor, Program, RunSpec, Started, Stop};
use crate::gate::Gate;
use crate::inflight::{InFlight, InFlightRun};
use crate::recorder::{Record, Recorder};
use distcron_core::RunEnd;
use distcron_core::payload::JobTask;
use distcron_core::run::skip;
use distcron_core::{JobStatus, JobType, RunStatus};
use distcron_store::{StartCheck, Store};
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// Why a checked run is not started: its job is no longer on its schedule (`status`, as the
/// check found it: paused, finished, or no row).
pub fn not_startable(status: Option<JobStatus>) -> RunEnd {
    match status {
        Some(JobStatus::Paused) => RunEnd::not_started(RunStatus::Skipped, skip::PAUSED),
        _ => RunEnd::not_started(RunStatus::Skipped, skip::DELETED),
    }
}

pub struct Runner {
    pub store: Store,
    pub exec: Arc<Executor>,
    pub cache: Arc<BlobCache>,
    pub inflight: Arc<InFlight>,
    pub gate: Arc<Gate>,
    pub recorder: Recorder,
    /// Every run's task: what shutdown waits for.
    pub tasks: TaskTracker,
}

impl Runner {
    /// What to execute for the job if it can start without I/O: a command, or an executable
    /// already in the cache.
    fn ready_program(&self, task: &JobTask) -> Option<Program> {
        match task.spec.job_type {
            JobType::Command => Some(Program::Shell(task.spec.executable.clone())),
            _ => task
                .spec
                .sha256
                .as_deref()
                .and_then(|sha| self.cache.cached(sha))
                .map(Program::File),
        }
    }

    /// Starts a claimed run whose job the caller's `StartCheck` allowed. A ready program
    /// starts right here, so the runs of an instant start back to back; an executable not yet
    /// cached is fetched in the run's task and checked again there.
    pub fn start_run(&self, spec: RunSpec) {
        // The row is written: if the gate closed since, the run is interrupted (and retried by
        // whoever owns the job once this worker's claim is settled), never started late.
        if let Err(closed) = self.gate.check() {
            self.recorder.record(Record::new(
                &spec,
                RunEnd::not_started(RunStatus::Interrupted, format!("not started: {}", closed.0)),
            ));
            return;
        }
        let (control, stop) = Executor::control();
        self.inflight.insert(
            spec.run_id,
            InFlightRun {
                job: spec.task.id,
                scheduled_at: spec.scheduled_at,
                attempt: spec.attempt,
                control,
            },
        );
        let started = self
            .ready_program(&spec.task)
            .map(|program| self.spawn(&spec, &program));
        let run = RunTask {
            store: self.store.clone(),
            exec: self.exec.clone(),
            cache: self.cache.clone(),
            gate: self.gate.clone(),
            inflight: self.inflight.clone(),
            recorder: self.recorder.clone(),
        };
        self.tasks.spawn(run.follow(spec, started, stop));
    }

    fn spawn(&self, spec: &RunSpec, program: &Program) -> Result<Started, String> {
        spawn_recorded(&self.exec, &self.recorder, spec, program)
    }
}

/// Starts the process and, once it runs, has its start recorded.
fn spawn_recorded(
    exec: &Executor,
    recorder: &Recorder,
    spec: &RunSpec,
    program: &Program,
) -> Result<Started, String> {
    let started = exec.start(spec, program)?;
    crate::metrics::run_started(started.started_at() - spec.scheduled_at);
    recorder.started(spec.run_id, started.started_at());
    Ok(started)
}

/// What a run's task needs once it is on its own.
struct RunTask {
    store: Store,
    exec: Arc<Executor>,
    cache: Arc<BlobCache>,
    gate: Arc<Gate>,
    inflight: Arc<InFlight>,
    recorder: Recorder,
}

impl RunTask {
    /// Runs the run to its end and records it. A panic anywhere in it (in `supervise` too)
    /// ends in a recorded failure: the run's process is killed as its handle drops with the
    /// unwound future (`exec::abandon`), and it leaves the in-flight set, ending its lease.
    async fn follow(
        self,
        spec: RunSpec,
        started: Option<Result<Started, String>>,
        stop: watch::Receiver<Option<Stop>>,
    ) {
        let run = std::panic::AssertUnwindSafe(self.run(&spec, started, stop));
        let finished = futures::FutureExt::catch_unwind(run)
            .await
            .unwrap_or_else(|panic| {
                let reason = format!("the worker's run task panicked: {}", panic_message(&*panic));
                tracing::error!(job_id = %spec.task.id, run_id = %spec.run_id, %reason, "a run task panicked");
                RunEnd::not_started(RunStatus::Failed, reason)
            });
        // Recorded before it leaves the in-flight set, so that it is always in one of the
        // two (shutdown waits for both; the orphan sweep spares both).
        self.recorder.record(Record::new(&spec, finished));
        self.inflight.remove(&spec.run_id);
    }

    async fn run(
        &self,
        spec: &RunSpec,
        started: Option<Result<Started, String>>,
        stop: watch::Receiver<Option<Stop>>,
    ) -> RunEnd {
        let started = match started {
            Some(started) => {
                started.map_err(|reason| RunEnd::not_started(RunStatus::Failed, reason))
            }
            None => self.fetch_and_start(spec, &stop).await,
        };
        match started {
            Ok(started) => self.exec.supervise(spec, started, stop).await,
            Err(end) => end,
        }
    }

    /// Downloads the executable, then starts it if the job is still on its schedule and the
    /// gate still open.
    async fn fetch_and_start(
        &self,
        spec: &RunSpec,
        stop: &watch::Receiver<Option<Stop>>,
    ) -> Result<Started, RunEnd> {
        let sha = spec.task.spec.sha256.clone().unwrap_or_default();
        let path = self
            .cache
            .fetch(&spec.task.spec.executable, &sha)
            .await
            .map_err(|reason| RunEnd::not_started(RunStatus::Failed, reason))?;
        let check: StartCheck = self
            .store
            .check_for_start_waiting(&[spec.task.id])
            .await
            .map_err(|e| {
                RunEnd::not_started(
                    RunStatus::Interrupted,
                    format!("not started: cannot confirm the job is still on its schedule: {e}"),
                )
            })?;
        if !check.may_start(&spec.task.id) {
            return Err(not_startable(check.status(&spec.task.id)));
        }
        if let Some(reason) = self.inflight.take_killed_claim(&spec.run_id) {
            return Err(killed_before_start(&reason));
        }
        // Stopped while it was being fetched (killed, replaced, fenced, shutting down): not
        // started.
        match stop.borrow().clone() {
            Some(Stop::Requested(reason)) => return Err(killed_before_start(&reason)),
            Some(why) => {
                return Err(RunEnd::not_started(
                    RunStatus::Interrupted,
                    format!("not started: stopped ({why:?}) while its executable was fetched"),
                ));
            }
            None => {}
        }
        if let Err(closed) = self.gate.check() {
            return Err(RunEnd::not_started(
                RunStatus::Interrupted,
                format!("not started: {}", closed.0),
            ));
        }
        let started = spawn_recorded(&self.exec, &self.recorder, spec, &Program::File(path))
            .map_err(|reason| RunEnd::not_started(RunStatus::Failed, reason));
        if let Err(e) = check.release().await {
            tracing::warn!(error = %e, "the start check's transaction ended in error");
        }
        started
    }
}

/// What a panic said, if it said it as a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// A run killed after its claim and before its process started: skipped, with the kill's
/// reason.
pub(crate) fn killed_before_start(reason: &str) -> RunEnd {
    RunEnd::not_started(RunStatus::Skipped, format!("not started: {reason}"))
}
