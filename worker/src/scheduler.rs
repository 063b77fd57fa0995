//! The scheduler: a deadline set plus a wake-up. It holds the jobs assigned to this worker,
//! wakes at each instant some of them are due, accounts for every tick (run, or skipped with a
//! reason), writes the instant's run rows in as few statements as possible and only then
//! starts the processes. A row that already exists means someone else owned the tick: it is
//! never started again.

use crate::cache::BlobCache;
use crate::exec::{Executor, Program, RunSpec, Stop};
use crate::gate::Gate;
use crate::inflight::{InFlight, InFlightRun};
use crate::recorder::{Record, Recorder};
use crate::ticks::{Action, MAX_MISSED, Overlap, anchor, decide, next_tick};
use chrono::{DateTime, Utc};
use distcron_core::payload::JobTask;
use distcron_core::{Concurrency, JobId, JobType, Run, RunId, RunStatus};
use distcron_store::{Claimant, NewRun, RunEnd, Store};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Ticks per claim statement; the first processes start as soon as the first chunk is written.
const CLAIM_CHUNK: usize = 250;
/// Claims in flight at once: enough to overlap writing with starting, few enough to leave the
/// connection pool to the recorder and the leases.
const CLAIMS_IN_FLIGHT: usize = 3;

pub enum Command {
    /// Every task assigned to this worker, after the session (re)started. `fresh`: a new
    /// session, so ownership may have lapsed and every job is adopted anew from MySQL.
    Reconcile {
        tasks: Vec<JobTask>,
        fresh: bool,
        done: oneshot::Sender<()>,
    },
    /// A task was assigned, or its definition changed.
    Upsert(JobTask),
    /// A task was taken away.
    Remove(JobId),
    /// Retries whose time has come (of any job; the scheduler keeps its own).
    Retries(Vec<Run>),
    Adopted(Vec<Adoption>),
    AdoptionFailed(Vec<JobId>),
    /// Runs still running elsewhere, per job (refreshed after an overlap was seen).
    ForeignRuns(HashMap<JobId, Vec<RunId>>),
    /// This worker's rows MySQL has as `running`, claimed a while ago: those that are neither
    /// in flight nor waiting to be recorded were never started, and are interrupted.
    Orphans(Vec<(RunId, JobId, DateTime<Utc>, u16)>),
}

/// What MySQL says about a job this worker takes over.
pub struct Adoption {
    pub job: JobId,
    pub last: Option<DateTime<Utc>>,
    pub foreign: Vec<RunId>,
}

struct JobState {
    task: Arc<JobTask>,
    /// Every tick up to here is accounted for. `None` while the job is being adopted.
    cursor: Option<DateTime<Utc>>,
    /// The queue entry for this job: when to prepare it (its due time, less the claim lead).
    queued: Option<DateTime<Utc>>,
    /// The time the queue entry is for (the next tick, or when to look again).
    due: Option<DateTime<Utc>>,
    /// Runs of this job running on other workers when it was adopted.
    foreign: Vec<RunId>,
}

impl JobState {
    /// A job just assigned: its ticks wait until MySQL says where they stand.
    fn adopting(task: JobTask) -> JobState {
        JobState {
            task: Arc::new(task),
            cursor: None,
            queued: None,
            due: None,
            foreign: vec![],
        }
    }
}

/// A tick and what to do with it.
struct Planned {
    task: Arc<JobTask>,
    row: NewRun,
    /// The job's tick before this one (its cursor), to go back to if this row cannot be
    /// written.
    prev_cursor: DateTime<Utc>,
}

pub struct Scheduler {
    pub store: Store,
    pub exec: Arc<Executor>,
    pub cache: Arc<BlobCache>,
    pub recorder: Recorder,
    pub inflight: Arc<InFlight>,
    pub gate: Arc<Gate>,
    pub claimant: Claimant,
    /// A lone tick later than this is a misfire, handled by the job's policy.
    pub misfire_threshold: chrono::Duration,
    /// How long before a tick its run rows are written.
    claim_lead: chrono::Duration,
    pub commands: mpsc::UnboundedSender<Command>,
    /// Jobs to adopt, to the adopter task, which reads MySQL for many at once.
    adopter: mpsc::UnboundedSender<Vec<JobId>>,
    jobs: HashMap<JobId, JobState>,
    queue: BTreeSet<(DateTime<Utc>, JobId)>,
    blocked_by_gate: Option<String>,
}

fn instant_for(at: DateTime<Utc>) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    match (at - Utc::now()).to_std() {
        Ok(d) => now + d,
        Err(_) => now,
    }
}

impl Scheduler {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        exec: Arc<Executor>,
        cache: Arc<BlobCache>,
        recorder: Recorder,
        inflight: Arc<InFlight>,
        gate: Arc<Gate>,
        claimant: Claimant,
        misfire_threshold: Duration,
        claim_lead: Duration,
        commands: mpsc::UnboundedSender<Command>,
        adopter: mpsc::UnboundedSender<Vec<JobId>>,
    ) -> Scheduler {
        Scheduler {
            store,
            exec,
            cache,
            recorder,
            inflight,
            gate,
            claimant,
            misfire_threshold: chrono::Duration::from_std(misfire_threshold)
                .unwrap_or(chrono::Duration::seconds(2)),
            claim_lead: chrono::Duration::from_std(claim_lead).unwrap_or_default(),
            commands,
            adopter,
            jobs: HashMap::new(),
            queue: BTreeSet::new(),
            blocked_by_gate: None,
        }
    }

    pub async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Command>,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut gate_changes = self.gate.subscribe();
        loop {
            let deadline = self.queue.first().map(|(t, _)| instant_for(*t));
            let blocked = self.blocked_by_gate.is_some();
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await },
                    if deadline.is_some() && !blocked => self.fire().await,
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.handle(cmd).await,
                    None => return Ok(()),
                },
                // Closed by staleness, the gate reopens when ZooKeeper answers again, which
                // notifies; the poll is a backstop.
                _ = gate_changes.changed(), if blocked => self.retry_gate(),
                _ = tokio::time::sleep(Duration::from_millis(100)), if blocked => self.retry_gate(),
            }
        }
    }

    fn retry_gate(&mut self) {
        if self.gate.is_open()
            && let Some(reason) = self.blocked_by_gate.take()
        {
            tracing::info!(was = %reason, "launching again");
        }
    }

    /// Queues the job for `at`. Its rows are written `claim_lead` ahead, so that at `at` only
    /// the processes remain to start; a job whose concurrency is not `allow` is decided at its
    /// time, since whether its previous run still runs can change until then.
    fn enqueue(&mut self, job: JobId, at: Option<DateTime<Utc>>) {
        let lead = self.claim_lead;
        let Some(state) = self.jobs.get_mut(&job) else {
            return;
        };
        if let Some(old) = state.queued.take() {
            self.queue.remove(&(old, job));
        }
        state.due = at;
        if let Some(at) = at {
            let wake = if state.task.spec.options.concurrency == Concurrency::Allow {
                at - lead
            } else {
                at
            };
            state.queued = Some(wake);
            self.queue.insert((wake, job));
        }
    }

    fn drop_job(&mut self, job: &JobId) {
        if let Some(state) = self.jobs.remove(job)
            && let Some(at) = state.queued
        {
            self.queue.remove(&(at, *job));
        }
    }

    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Reconcile { tasks, fresh, done } => {
                let wanted: HashSet<JobId> = tasks.iter().map(|t| t.id).collect();
                let gone: Vec<JobId> = self
                    .jobs
                    .keys()
                    .filter(|j| !wanted.contains(j))
                    .copied()
                    .collect();
                for j in &gone {
                    self.drop_job(j);
                }
                let mut adopt = Vec::new();
                for task in tasks {
                    let id = task.id;
                    if fresh || !self.jobs.contains_key(&id) {
                        self.drop_job(&id);
                        self.jobs.insert(id, JobState::adopting(task));
                        adopt.push(id);
                    } else {
                        self.update(task);
                    }
                }
                tracing::info!(
                    jobs = self.jobs.len(),
                    dropped = gone.len(),
                    adopting = adopt.len(),
                    fresh,
                    "assignments reconciled"
                );
                let _ = done.send(());
                self.adopt(adopt);
            }
            Command::Upsert(task) => {
                if self.jobs.contains_key(&task.id) {
                    self.update(task);
                } else {
                    let id = task.id;
                    tracing::info!(job_id = %id, "job assigned");
                    self.jobs.insert(id, JobState::adopting(task));
                    self.adopt(vec![id]);
                }
            }
            Command::Remove(job) => {
                if self.jobs.contains_key(&job) {
                    tracing::info!(job_id = %job, "job unassigned");
                    self.drop_job(&job);
                }
            }
            Command::Adopted(adoptions) => {
                for a in adoptions {
                    let Some(state) = self.jobs.get_mut(&a.job) else {
                        continue;
                    };
                    if state.cursor.is_some() {
                        continue;
                    }
                    let start = anchor(&state.task);
                    let cursor = a.last.map_or(start, |l| l.max(start));
                    state.cursor = Some(cursor);
                    state.foreign = a.foreign;
                    let next = next_tick(&state.task, cursor);
                    self.enqueue(a.job, next);
                }
            }
            Command::AdoptionFailed(jobs) => {
                let adopter = self.adopter.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let _ = adopter.send(jobs);
                });
            }
            Command::Retries(runs) => self.start_retries(runs).await,
            Command::Orphans(rows) => self.interrupt_orphans(rows),
            Command::ForeignRuns(by_job) => {
                for (job, runs) in by_job {
                    if let Some(state) = self.jobs.get_mut(&job) {
                        state.foreign = runs;
                    }
                }
            }
        }
    }

    /// A new definition of a job this worker already runs: its cursor stays.
    fn update(&mut self, task: JobTask) {
        let id = task.id;
        let Some(state) = self.jobs.get_mut(&id) else {
            return;
        };
        if state.task.version == task.version {
            return;
        }
        tracing::info!(job_id = %id, version = task.version, "job definition changed");
        state.task = Arc::new(task);
        if let Some(cursor) = state.cursor {
            let next = next_tick(&state.task, cursor);
            self.enqueue(id, next);
        }
    }

    /// Reads from MySQL where each job's ticks stand, then schedules them.
    fn adopt(&self, jobs: Vec<JobId>) {
        if jobs.is_empty() {
            return;
        }
        for j in &jobs {
            if let Some(state) = self.jobs.get(j)
                && state.task.spec.job_type.is_blob()
            {
                self.prefetch(state.task.clone());
            }
        }
        let _ = self.adopter.send(jobs);
    }

    /// Downloads a job's executable ahead of its first run.
    fn prefetch(&self, task: Arc<JobTask>) {
        let cache = self.cache.clone();
        tokio::spawn(async move {
            let sha = task.spec.sha256.clone().unwrap_or_default();
            if let Err(e) = cache.fetch(&task.spec.executable, &sha).await {
                tracing::warn!(job_id = %task.id, error = %e, "cannot prefetch the job's executable");
            }
        });
    }

    /// Everything due now: decide each tick, write the rows, start the runs.
    async fn fire(&mut self) {
        if let Err(closed) = self.gate.check() {
            if self.blocked_by_gate.as_deref() != Some(closed.0.as_str()) {
                tracing::warn!(reason = %closed.0, "not launching");
            }
            self.blocked_by_gate = Some(closed.0);
            return;
        }
        let now = Utc::now();
        let mut due = Vec::new();
        while let Some(&(at, job)) = self.queue.first() {
            if at > now {
                break;
            }
            self.queue.pop_first();
            if let Some(state) = self.jobs.get_mut(&job) {
                state.queued = None;
                due.push((job, state.due.take().unwrap_or(now).max(now)));
            }
        }
        let mut busy = None;
        let mut planned = Vec::new();
        let mut foreign_check = Vec::new();
        for (job, until) in due {
            let Some(state) = self.jobs.get(&job) else {
                continue;
            };
            let Some(cursor) = state.cursor else { continue };
            let task = state.task.clone();
            let ticks = crate::ticks::between(&task, cursor, until);
            let Some(&last) = ticks.last() else {
                let next = next_tick(&task, cursor);
                self.enqueue(job, next);
                continue;
            };
            if ticks.len() == MAX_MISSED {
                tracing::warn!(job_id = %job, "more than {MAX_MISSED} missed ticks; accounting for the oldest first");
            }
            // `allow` ignores overlaps: no need to know of any, nor to look for foreign runs.
            let overlap = if task.spec.options.concurrency == Concurrency::Allow {
                Overlap::None
            } else if !state.foreign.is_empty() {
                Overlap::Foreign
            } else if busy
                .get_or_insert_with(|| self.inflight.busy_jobs())
                .contains(&job)
            {
                Overlap::Local
            } else {
                Overlap::None
            };
            if overlap == Overlap::Foreign {
                // Those runs may have ended since: look again, for the next tick.
                foreign_check.push(job);
            }
            // Each row carries the tick before it: if its chunk cannot be written, the job goes
            // back to there, and the ticks before it (whose rows were written) stay decided.
            let mut before = cursor;
            for (t, action) in decide(
                &ticks,
                now,
                self.misfire_threshold,
                &task.spec.options,
                overlap,
            ) {
                let row = match action {
                    Action::Run => self.plan(&task, t, RunStatus::Running, None, before),
                    Action::Replace => {
                        for (_, run) in self.inflight.of_job(&job) {
                            run.control.stop(Stop::Replaced(t));
                        }
                        self.plan(&task, t, RunStatus::Running, None, before)
                    }
                    Action::Skip(reason) => {
                        self.plan(&task, t, RunStatus::Skipped, Some(reason), before)
                    }
                };
                planned.push(row);
                before = t;
            }
            if let Some(state) = self.jobs.get_mut(&job) {
                state.cursor = Some(last);
            }
            let next = next_tick(&task, last);
            self.enqueue(job, next);
        }
        if !foreign_check.is_empty() {
            self.refresh_foreign(foreign_check);
        }
        if !planned.is_empty() {
            self.launch(planned).await;
        }
    }

    fn plan(
        &self,
        task: &Arc<JobTask>,
        at: DateTime<Utc>,
        status: RunStatus,
        reason: Option<&str>,
        prev_cursor: DateTime<Utc>,
    ) -> Planned {
        Planned {
            task: task.clone(),
            row: NewRun {
                id: RunId::new(),
                job_id: task.id,
                scheduled_at: at,
                attempt: 1,
                status,
                reason: reason.map(str::to_string),
            },
            prev_cursor,
        }
    }

    /// Re-reads which runs of these jobs still run on other workers, so that concurrency
    /// policies stop seeing runs that have ended.
    fn refresh_foreign(&self, jobs: Vec<JobId>) {
        let store = self.store.clone();
        let tx = self.commands.clone();
        let me = self.claimant.worker_id.clone();
        tokio::spawn(async move {
            match store.running_runs(&jobs).await {
                Ok(running) => {
                    let by_job = foreign_runs(jobs, running, &me);
                    let _ = tx.send(Command::ForeignRuns(by_job));
                }
                Err(e) => tracing::warn!(error = %e, "cannot check runs on other workers"),
            }
        });
    }

    /// Writes the rows of `planned` (one statement per chunk, a few chunks in flight at once,
    /// each in its own task) and starts each claimed run at its tick, chunk after chunk.
    async fn launch(&mut self, mut planned: Vec<Planned>) {
        planned.sort_by_key(|p| p.row.scheduled_at);
        let permits = Arc::new(tokio::sync::Semaphore::new(CLAIMS_IN_FLIGHT));
        let mut claims = std::collections::VecDeque::new();
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
        while let Some((chunk, claim)) = claims.pop_front() {
            let result = match claim.await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(e) => Err(format!("the claim task failed: {e}")),
            };
            match result {
                Ok(owned) => {
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
                            (Some((id, RunStatus::Running)), RunStatus::Running) => {
                                starts.push((p.task, *id, p.row.scheduled_at));
                            }
                            // Written as running by an earlier attempt whose answer was lost, and
                            // now decided otherwise (it is late): record that decision.
                            (Some((id, RunStatus::Running)), _) => {
                                let spec = RunSpec {
                                    run_id: *id,
                                    task: p.task,
                                    scheduled_at: p.row.scheduled_at,
                                    attempt: p.row.attempt,
                                };
                                let reason = p.row.reason.unwrap_or_else(|| {
                                    distcron_core::run::skip::MISFIRE.to_string()
                                });
                                self.recorder.record(Record::new(
                                    &spec,
                                    RunEnd::not_started(p.row.status, reason),
                                ));
                            }
                            _ => {}
                        }
                    }
                    self.start_at_their_time(starts).await;
                }
                Err(e) => {
                    // Whether this chunk was written is unknown; nothing of it may run now. Its
                    // ticks are looked at again shortly: the claim then finds any row written
                    // here as this worker's own, and the misfire policy decides.
                    tracing::warn!(error = %e, ticks = chunk.len(), "cannot write run rows; retrying these ticks");
                    let retry_at = Utc::now() + chrono::Duration::seconds(1);
                    for p in chunk {
                        // Rows are in time order: a job's first row here (or in an earlier
                        // failed chunk) has its earliest cursor.
                        if !rolled_back.insert(p.task.id) {
                            continue;
                        }
                        if let Some(state) = self.jobs.get_mut(&p.task.id) {
                            state.cursor =
                                Some(state.cursor.map_or(p.prev_cursor, |c| c.min(p.prev_cursor)));
                            self.enqueue(p.task.id, Some(retry_at));
                        }
                    }
                }
            }
        }
    }

    /// Starts claimed runs at their tick (rows are written up to the claim lead early). The
    /// process starts themselves are synchronous forks and execs, done in a burst, so they run
    /// where they block no other task.
    async fn start_at_their_time(&self, starts: Vec<(Arc<JobTask>, RunId, DateTime<Utc>)>) {
        let mut rest = starts.as_slice();
        while let Some(&(_, _, at)) = rest.first() {
            let n = rest.iter().take_while(|(_, _, t)| *t == at).count();
            let (now, later) = rest.split_at(n);
            let when = instant_for(at);
            if when > tokio::time::Instant::now() {
                tokio::time::sleep_until(when).await;
            }
            let start_all = || {
                for (task, id, at) in now {
                    self.start(task.clone(), *id, *at, 1);
                }
            };
            // Off the runtime's scheduling where it can be (a multi-threaded runtime); inline on
            // a current-thread runtime, which has nowhere else to run other tasks anyway.
            match tokio::runtime::Handle::current().runtime_flavor() {
                tokio::runtime::RuntimeFlavor::CurrentThread => start_all(),
                _ => tokio::task::block_in_place(start_all),
            }
            rest = later;
        }
    }

    /// Interrupts rows this worker claimed but never started. Checked here, between launches,
    /// where every claim has been either started (in flight), recorded, or is one of these.
    fn interrupt_orphans(&self, rows: Vec<(RunId, JobId, DateTime<Utc>, u16)>) {
        let orphans: Vec<_> = rows
            .into_iter()
            .filter(|(id, ..)| !self.inflight.contains(id) && !self.recorder.is_pending(id))
            .collect();
        if orphans.is_empty() {
            return;
        }
        tracing::error!(
            runs = orphans.len(),
            "found runs claimed here but never started; interrupting them"
        );
        for (run_id, job, scheduled_at, attempt) in orphans {
            let spec = match self.jobs.get(&job) {
                Some(state) => RunSpec {
                    run_id,
                    task: state.task.clone(),
                    scheduled_at,
                    attempt,
                },
                None => {
                    // No longer this worker's job: the reaper's rules apply once it is stale.
                    tracing::warn!(%run_id, job_id = %job, "an unstarted run of a job this worker no longer owns");
                    continue;
                }
            };
            self.recorder.record(Record::new(
                &spec,
                RunEnd::not_started(
                    RunStatus::Interrupted,
                    "interrupted: claimed by this worker but never started",
                ),
            ));
        }
    }

    /// Takes pending retries of this worker's jobs and starts them.
    async fn start_retries(&mut self, runs: Vec<Run>) {
        for run in runs {
            let Some(state) = self.jobs.get(&run.job_id) else {
                continue;
            };
            if state.cursor.is_none() || self.gate.check().is_err() {
                continue;
            }
            let task = state.task.clone();
            match self.store.claim_retry(&run.id, &self.claimant).await {
                Ok(true) => {
                    tracing::info!(job_id = %run.job_id, attempt = run.attempt, scheduled_at = %run.scheduled_at, "starting a retry");
                    self.start(task, run.id, run.scheduled_at, run.attempt);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot claim a retry"),
            }
        }
    }

    /// Starts one claimed run. Command jobs and cached executables start right here; others
    /// are fetched first.
    fn start(&self, task: Arc<JobTask>, run_id: RunId, scheduled_at: DateTime<Utc>, attempt: u16) {
        let spec = RunSpec {
            run_id,
            task: task.clone(),
            scheduled_at,
            attempt,
        };
        // The row is written: if the gate closed since, the run is interrupted (and retried by
        // whoever owns the job once this worker's claim is settled), never started late.
        if let Err(closed) = self.gate.check() {
            self.recorder.record(Record::new(
                &spec,
                RunEnd::not_started(RunStatus::Interrupted, format!("not started: {}", closed.0)),
            ));
            return;
        }
        let (control, stop_rx) = Executor::control();
        self.inflight.insert(
            run_id,
            InFlightRun {
                job: task.id,
                scheduled_at,
                attempt,
                control,
            },
        );
        let program = match task.spec.job_type {
            JobType::Command => Some(Program::Shell(task.spec.executable.clone())),
            _ => task
                .spec
                .sha256
                .as_deref()
                .and_then(|sha| self.cache.cached(sha))
                .map(Program::File),
        };
        // A ready program starts right here, so the runs of an instant start back to back;
        // an executable not yet cached is fetched (and the gate checked again) in the run's task.
        let started_now = program.map(|p| self.exec.start(&spec, &p));
        let exec = self.exec.clone();
        let cache = self.cache.clone();
        let gate = self.gate.clone();
        let inflight = self.inflight.clone();
        let recorder = self.recorder.clone();
        tokio::spawn(async move {
            let started = match started_now {
                Some(started) => started.map_err(|reason| (RunStatus::Failed, reason)),
                None => {
                    let sha = spec.task.spec.sha256.clone().unwrap_or_default();
                    match cache.fetch(&spec.task.spec.executable, &sha).await {
                        Err(reason) => Err((RunStatus::Failed, reason)),
                        Ok(path) => match gate.check() {
                            Err(closed) => {
                                Err((RunStatus::Interrupted, format!("not started: {}", closed.0)))
                            }
                            Ok(()) => exec
                                .start(&spec, &Program::File(path))
                                .map_err(|r| (RunStatus::Failed, r)),
                        },
                    }
                }
            };
            let finished = match started {
                Ok(started) => exec.supervise(&spec, started, stop_rx).await,
                Err((status, reason)) => RunEnd::not_started(status, reason),
            };
            // Recorded before it leaves the in-flight set, so that it is always in one of the
            // two (shutdown waits for both; the orphan sweep spares both).
            recorder.record(Record::new(&spec, finished));
            inflight.remove(&spec.run_id);
        });
    }
}

/// The runs of `jobs` that run elsewhere, by job: rows still `running` that another worker
/// holds. This worker's own runs are in its in-flight set, where the concurrency policies see
/// them as local (a `replace` stops them, which it cannot do to a run elsewhere).
fn foreign_runs(
    jobs: impl IntoIterator<Item = JobId>,
    running: Vec<Run>,
    me: &str,
) -> HashMap<JobId, Vec<RunId>> {
    let mut by_job: HashMap<JobId, Vec<RunId>> =
        jobs.into_iter().map(|j| (j, Vec::new())).collect();
    for r in running {
        if r.worker_id.as_deref() != Some(me) {
            by_job.entry(r.job_id).or_default().push(r.id);
        }
    }
    by_job
}

/// Reads where adopted jobs stand, for many jobs per query: jobs assigned within a few
/// milliseconds of each other (a burst of new jobs, a dead worker's jobs) are read together.
pub async fn run_adopter(
    store: Store,
    worker_id: String,
    mut rx: mpsc::UnboundedReceiver<Vec<JobId>>,
    commands: mpsc::UnboundedSender<Command>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let mut batch = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            b = rx.recv() => match b {
                Some(b) => b,
                None => return Ok(()),
            },
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        while let Ok(more) = rx.try_recv() {
            batch.extend(more);
        }
        fetch_adoptions(store.clone(), &worker_id, batch, commands.clone()).await;
    }
}

async fn fetch_adoptions(
    store: Store,
    me: &str,
    jobs: Vec<JobId>,
    tx: mpsc::UnboundedSender<Command>,
) {
    let result = async {
        let last = store.last_accounted(&jobs).await?;
        let running = store.running_runs(&jobs).await?;
        Ok::<_, distcron_store::StoreError>((last, running))
    }
    .await;
    match result {
        Ok((last, running)) => {
            let mut foreign = foreign_runs(jobs.iter().copied(), running, me);
            let adoptions = jobs
                .into_iter()
                .map(|job| Adoption {
                    job,
                    last: last.get(&job).copied(),
                    foreign: foreign.remove(&job).unwrap_or_default(),
                })
                .collect();
            let _ = tx.send(Command::Adopted(adoptions));
        }
        Err(e) => {
            tracing::warn!(error = %e, jobs = jobs.len(), "cannot read where adopted jobs stand; retrying");
            let _ = tx.send(Command::AdoptionFailed(jobs));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(job: JobId, worker: &str) -> Run {
        let now = Utc::now();
        Run {
            id: RunId::new(),
            job_id: job,
            scheduled_at: now,
            attempt: 1,
            status: RunStatus::Running,
            reason: None,
            worker_id: Some(worker.into()),
            created_at: now,
            started_at: Some(now),
            finished_at: None,
            exit_code: None,
            signal: None,
        }
    }

    #[test]
    fn only_runs_held_by_other_workers_are_foreign_and_every_job_gets_an_entry() {
        let (a, b, c) = (JobId::new(), JobId::new(), JobId::new());
        let elsewhere = running(a, "worker-2");
        let by_job = foreign_runs(
            [a, b, c],
            vec![
                elsewhere.clone(),
                running(a, "worker-1"),
                running(b, "worker-1"),
            ],
            "worker-1",
        );
        assert_eq!(by_job[&a], vec![elsewhere.id]);
        assert!(by_job[&b].is_empty(), "this worker's own run is local");
        assert!(by_job[&c].is_empty());
    }
}
