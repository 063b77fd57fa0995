//! The scheduler: a deadline set plus a wake-up. It holds the jobs assigned to this worker and
//! the retries waiting for it, wakes at each instant some of them are due, accounts for every
//! tick (run, or skipped with a reason: `fire.rs`) and hands the instant to a launch
//! (`crate::launch`), which writes the rows and starts the processes while the scheduler goes
//! on. A job is in at most one launch at a time: its next instant waits for the launch to
//! report, so that a tick whose row could not be written is looked at again before any later
//! one.

mod adopt;
mod fire;

pub use adopt::run as run_adopter;

use crate::cache::BlobCache;
use crate::exec::RunSpec;
use crate::gate::Gate;
use crate::inflight::InFlight;
use crate::launch::{Launcher, Report, instant_for};
use crate::recorder::{Record, Recorder};
use crate::ticks::{anchor, next_tick};
use chrono::{DateTime, Utc};
use distcron_core::payload::JobTask;
use distcron_core::{Concurrency, JobId, RunId, RunStatus};
use distcron_store::{PendingRetry, RunEnd, Store};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub enum Command {
    /// Every task assigned to this worker, after the session (re)started. `fresh`: a new
    /// session, so ownership may have lapsed and every job is adopted anew from MySQL.
    Reconcile {
        tasks: Vec<JobTask>,
        fresh: bool,
        done: oneshot::Sender<()>,
    },
    /// A task was assigned, or its definition changed.
    Upsert(Box<JobTask>),
    /// A task was taken away.
    Remove(JobId),
    Adopted(Vec<Adoption>),
    /// Runs still running elsewhere, per job (refreshed after an overlap was seen).
    ForeignRuns(HashMap<JobId, Vec<RunId>>),
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

/// What the queue wakes up for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Job(JobId),
    Retry(RunId),
}

struct JobState {
    task: Arc<JobTask>,
    /// Every tick up to here is accounted for. `None` while the job is being adopted.
    cursor: Option<DateTime<Utc>>,
    /// The queue entry for this job: when to prepare it (its due time, less the claim lead).
    queued: Option<DateTime<Utc>>,
    /// The time the queue entry is for (the next tick, or when to look again).
    due: Option<DateTime<Utc>>,
    /// A due time that came while the job's previous launch was still going.
    deferred: Option<DateTime<Utc>>,
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
            deferred: None,
            foreign: vec![],
        }
    }
}

/// What the scheduler works with.
pub struct Deps {
    pub store: Store,
    pub cache: Arc<BlobCache>,
    pub recorder: Recorder,
    pub inflight: Arc<InFlight>,
    pub gate: Arc<Gate>,
    pub launcher: Arc<Launcher>,
    /// A lone tick later than this is a misfire, handled by the job's policy.
    pub misfire_threshold: Duration,
    /// How long before a tick its run rows are written.
    pub claim_lead: Duration,
    /// The scheduler's own command channel (answers to its background reads come back there).
    pub commands: mpsc::UnboundedSender<Command>,
    /// Jobs to adopt, to the adopter task, which reads MySQL for many at once.
    pub adopter: mpsc::UnboundedSender<Vec<JobId>>,
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
            let deadline = self.queue.first().map(|(t, _)| instant_for(*t));
            let blocked = self.blocked_by_gate.is_some();
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                Some(done) = self.launches.join_next_with_id(), if !self.launches.is_empty() => {
                    self.launched(done);
                }
                _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await },
                    if deadline.is_some() && !blocked => self.fire(),
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

    /// Queues the job for `at`. Its rows are written `claim_lead` ahead, so that at `at` only
    /// the processes remain to start; a job whose concurrency is not `allow` is decided at its
    /// time, since whether its previous run still runs can change until then.
    fn enqueue(&mut self, job: JobId, at: Option<DateTime<Utc>>) {
        let lead = self.claim_lead;
        let Some(state) = self.jobs.get_mut(&job) else {
            return;
        };
        if let Some(old) = state.queued.take() {
            self.queue.remove(&(old, Due::Job(job)));
        }
        state.due = at;
        if let Some(at) = at {
            let wake = if state.task.spec.options.concurrency == Concurrency::Allow {
                at - lead
            } else {
                at
            };
            state.queued = Some(wake);
            self.queue.insert((wake, Due::Job(job)));
        }
    }

    fn drop_job(&mut self, job: &JobId) {
        if let Some(state) = self.jobs.remove(job)
            && let Some(at) = state.queued
        {
            self.queue.remove(&(at, Due::Job(*job)));
        }
        self.adopt_after_launch.remove(job);
    }

    fn handle(&mut self, cmd: Command) {
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
                let task = *task;
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
                    for r in a.retries {
                        self.schedule_retry(r);
                    }
                }
            }
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
        let new_executable =
            task.spec.job_type.is_blob() && task.spec.sha256 != state.task.spec.sha256;
        state.task = Arc::new(task);
        let task = state.task.clone();
        let cursor = state.cursor;
        if new_executable {
            self.prefetch(task.clone());
        }
        if let Some(cursor) = cursor {
            let next = next_tick(&task, cursor);
            self.enqueue(id, next);
        }
    }

    /// Reads from MySQL where each job's ticks stand, then schedules them. A job with a launch
    /// going is read once the launch has reported, so the read sees the rows it wrote.
    fn adopt(&mut self, jobs: Vec<JobId>) {
        let (later, now): (Vec<JobId>, Vec<JobId>) =
            jobs.into_iter().partition(|j| self.launching.contains(j));
        self.adopt_after_launch.extend(later);
        if now.is_empty() {
            return;
        }
        for j in &now {
            if let Some(state) = self.jobs.get(j)
                && state.task.spec.job_type.is_blob()
            {
                self.prefetch(state.task.clone());
            }
        }
        let _ = self.deps.adopter.send(now);
    }

    /// Downloads a job's executable ahead of its first run.
    fn prefetch(&self, task: Arc<JobTask>) {
        let cache = self.deps.cache.clone();
        tokio::spawn(async move {
            let sha = task.spec.sha256.clone().unwrap_or_default();
            if let Err(e) = cache.fetch(&task.spec.executable, &sha).await {
                tracing::warn!(job_id = %task.id, error = %e, "cannot prefetch the job's executable");
            }
        });
    }

    /// A retry to start at its time (known already, or in hand: nothing to do).
    fn schedule_retry(&mut self, r: PendingRetry) {
        if self.retries.contains_key(&r.id) || self.deps.inflight.holds(&r.id) {
            return;
        }
        self.queue.insert((r.not_before, Due::Retry(r.id)));
        self.retries.insert(r.id, r);
    }

    /// Starts a launch task for these jobs' rows (or for retries, with no jobs).
    fn spawn_launch(
        &mut self,
        jobs: Vec<JobId>,
        launch: impl std::future::Future<Output = Report> + Send + 'static,
    ) {
        let handle = self.launches.spawn(launch);
        self.launching.extend(jobs.iter().copied());
        self.launch_jobs.insert(handle.id(), jobs);
    }

    /// A launch reported: its jobs may be fired again, rolled-back ticks are looked at again
    /// shortly, and what waited for the launch goes ahead.
    fn launched(&mut self, done: Result<(tokio::task::Id, Report), tokio::task::JoinError>) {
        let (jobs, report) = match done {
            Ok((id, report)) => (self.launch_jobs.remove(&id).unwrap_or_default(), report),
            Err(e) => {
                let jobs = self.launch_jobs.remove(&e.id()).unwrap_or_default();
                tracing::error!(error = %e, jobs = jobs.len(), "a launch failed; its claimed rows are left to the orphan sweep");
                (jobs, Report::default())
            }
        };
        for job in &jobs {
            self.launching.remove(job);
        }
        let retry_at = Utc::now() + RETRY_AFTER;
        let rolled_back: HashSet<JobId> = report.rolled_back.iter().map(|(j, _)| *j).collect();
        for (job, prev) in report.rolled_back {
            // A job being adopted anew (it was assigned again during the launch) gets its
            // cursor from MySQL, which has whatever the launch wrote.
            if let Some(state) = self.jobs.get_mut(&job)
                && let Some(cursor) = state.cursor
            {
                state.cursor = Some(cursor.min(prev));
                state.deferred = None;
                self.enqueue(job, Some(retry_at));
            }
        }
        for job in jobs {
            if !rolled_back.contains(&job)
                && let Some(at) = self.jobs.get_mut(&job).and_then(|s| s.deferred.take())
            {
                self.enqueue(job, Some(at));
            }
            if self.adopt_after_launch.remove(&job) && self.jobs.contains_key(&job) {
                self.adopt(vec![job]);
            }
        }
        for mut r in report.retries_failed {
            r.not_before = retry_at;
            self.schedule_retry(r);
        }
    }

    /// Interrupts rows this worker claimed but never started: neither held by a launch, in
    /// flight, nor waiting to be recorded (the sweep takes them under the hold's lock, so a
    /// launch that finds one afterwards leaves it alone).
    fn interrupt_orphans(&self, rows: Vec<(RunId, JobId, DateTime<Utc>, u16)>) {
        let candidates: HashMap<RunId, (JobId, DateTime<Utc>, u16)> = rows
            .into_iter()
            .filter(|(id, ..)| !self.deps.recorder.is_pending(id))
            .map(|(id, job, at, attempt)| (id, (job, at, attempt)))
            .collect();
        let orphans = self.deps.inflight.sweep(candidates.keys().copied());
        if orphans.is_empty() {
            return;
        }
        tracing::error!(
            runs = orphans.len(),
            "found runs claimed here but never started; interrupting them"
        );
        let end = || {
            RunEnd::not_started(
                RunStatus::Interrupted,
                "interrupted: claimed by this worker but never started",
            )
        };
        for run_id in orphans {
            let (job, scheduled_at, attempt) = candidates[&run_id];
            let record = match self.jobs.get(&job) {
                Some(state) => Record::new(
                    &RunSpec {
                        run_id,
                        task: state.task.clone(),
                        scheduled_at,
                        attempt,
                    },
                    end(),
                ),
                // No longer this worker's job: its outcome alone (its lease would otherwise be
                // renewed for as long as this worker lives).
                None => Record::bare(run_id, job, scheduled_at, attempt, end()),
            };
            self.deps.recorder.record(record);
        }
    }
}
