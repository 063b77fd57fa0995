//! The queue and loop in process, on tokio's paused clock, with a fake backend that records
//! every launch instead of writing rows.

use super::backend::{Backend, Foreign};
use super::{Adoption, Assigned, Command, Deps, Scheduler};
use crate::clock::{Clock, TokioClock};
use crate::gate::Gate;
use crate::inflight::{Hold, InFlight};
use crate::launch::{DueRetry, Planned, Report};
use crate::recorder::Recorder;
use chrono::{DateTime, TimeZone, Utc};
use distcron_core::payload::{Assignment, JobTask};
use distcron_core::run::skip;
use distcron_core::{
    JobId, JobOptions, JobSpec, JobType, RunStatus, Schedule, TimeZone as Tz, UserName,
};
use distcron_store::PendingRetry;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A launched tick: its job, its time, what was decided, and when the launch came.
#[derive(Clone, Debug)]
struct Launched {
    job: JobId,
    tick: DateTime<Utc>,
    status: RunStatus,
    reason: Option<String>,
    at: DateTime<Utc>,
}

#[derive(Default)]
struct FakeState {
    launched: Vec<Launched>,
    /// Where adopted jobs stand (none: a new job).
    last: HashMap<JobId, DateTime<Utc>>,
    /// Runs of adopted jobs that an adoption finds running elsewhere.
    foreign: HashMap<JobId, Vec<distcron_core::RunId>>,
    /// Adoption reads to fail before one succeeds.
    failing_reads: u32,
    reads: u32,
    /// When each adoption read was made.
    read_at: Vec<DateTime<Utc>>,
    /// Launches whose rows "cannot be written": their ticks are rolled back.
    failing_launches: u32,
}

struct Fake {
    clock: Arc<TokioClock>,
    state: Mutex<FakeState>,
}

impl Fake {
    fn launched(&self) -> Vec<Launched> {
        self.state.lock().unwrap().launched.clone()
    }

    fn ticks_of(&self, job: JobId) -> Vec<DateTime<Utc>> {
        self.launched()
            .into_iter()
            .filter(|l| l.job == job)
            .map(|l| l.tick)
            .collect()
    }
}

impl Backend for Fake {
    fn read_adoptions(
        &self,
        jobs: Vec<JobId>,
    ) -> BoxFuture<'static, Result<Vec<Adoption>, String>> {
        let mut s = self.state.lock().unwrap();
        s.reads += 1;
        let now = self.clock.now();
        s.read_at.push(now);
        let answer = if s.failing_reads > 0 {
            s.failing_reads -= 1;
            Err("MySQL is down".to_string())
        } else {
            Ok(jobs
                .iter()
                .map(|j| Adoption {
                    job: *j,
                    last: s.last.get(j).copied(),
                    foreign: s.foreign.get(j).cloned().unwrap_or_default(),
                    retries: vec![],
                })
                .collect())
        };
        Box::pin(async move { answer })
    }

    /// As the live backend's: an entry for every job asked about (none running elsewhere).
    fn running_elsewhere(&self, jobs: Vec<JobId>) -> BoxFuture<'static, Result<Foreign, String>> {
        let by_job: Foreign = jobs.into_iter().map(|j| (j, vec![])).collect();
        Box::pin(async move { Ok(by_job) })
    }

    fn prefetch(&self, _task: Arc<JobTask>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }

    fn launch(&self, planned: Vec<Planned>, _hold: Hold) -> BoxFuture<'static, Report> {
        let mut s = self.state.lock().unwrap();
        let now = self.clock.now();
        let mut report = Report::default();
        if s.failing_launches > 0 {
            s.failing_launches -= 1;
            let mut seen = Vec::new();
            for p in &planned {
                if !seen.contains(&p.task.id) {
                    seen.push(p.task.id);
                    report.rolled_back.push((p.task.id, p.prev_cursor));
                }
            }
        }
        for p in planned {
            s.launched.push(Launched {
                job: p.task.id,
                tick: p.row.scheduled_at,
                status: p.row.status,
                reason: p.row.reason,
                at: now,
            });
        }
        Box::pin(async move { report })
    }

    fn launch_retries(&self, _due: Vec<DueRetry>, _hold: Hold) -> BoxFuture<'static, Report> {
        Box::pin(async { Report::default() })
    }
}

/// Where the tests' clock starts: a quarter past a whole second.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap()
        + chrono::Duration::milliseconds(250)
}

fn second(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap() + chrono::Duration::seconds(s)
}

fn task(schedule: &str, created_at: DateTime<Utc>) -> JobTask {
    JobTask {
        id: JobId::new(),
        version: 1,
        owner: UserName::parse("alice").expect("name"),
        created_at,
        resumed_at: None,
        schedule_changed_at: None,
        run_uid: Some(200_000),
        spec: JobSpec {
            name: None,
            job_type: JobType::Command,
            executable: "true".into(),
            sha256: None,
            schedule: Schedule::parse(schedule).expect("schedule"),
            timezone: Tz::utc(),
            timeout_seconds: None,
            privileged: false,
            run_as: None,
            options: JobOptions::default(),
            resources: Default::default(),
        },
    }
}

/// A scheduler running on the paused clock, its command channel, and the fake backend.
struct Harness {
    fake: Arc<Fake>,
    gate: Arc<Gate>,
    commands: mpsc::UnboundedSender<Command>,
    _retries: mpsc::UnboundedSender<Vec<PendingRetry>>,
    cancel: CancellationToken,
}

impl Harness {
    fn start(prepare: impl FnOnce(&mut FakeState)) -> Harness {
        let clock = Arc::new(TokioClock::starting_at(t0()));
        let mut state = FakeState::default();
        prepare(&mut state);
        let fake = Arc::new(Fake {
            clock: clock.clone(),
            state: Mutex::new(state),
        });
        let gate = Arc::new(Gate::new());
        gate.session_started(Duration::from_secs(3600), std::time::Instant::now());
        gate.set_reconciled();
        gate.set_clock(None);
        let scheduler = Scheduler::new(Deps {
            backend: fake.clone(),
            clock,
            recorder: Recorder::new().0,
            inflight: Arc::new(InFlight::default()),
            gate: gate.clone(),
            misfire_threshold: Duration::from_secs(2),
            claim_lead: Duration::from_millis(500),
        });
        let (commands, rx) = mpsc::unbounded_channel();
        let (retries, retries_rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        tokio::spawn(scheduler.run(rx, retries_rx, cancel.clone()));
        Harness {
            fake,
            gate,
            commands,
            _retries: retries,
            cancel,
        }
    }

    fn send(&self, cmd: Command) {
        self.commands.send(cmd).expect("the scheduler runs");
    }

    fn assign(&self, task: &JobTask) {
        self.assign_as(task, Assignment::of(task.version));
    }

    fn assign_as(&self, task: &JobTask, assignment: Assignment) {
        self.send(Command::Upsert(Box::new(Assigned {
            task: task.clone(),
            assignment,
        })));
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Harness {
    /// Lets the paused clock run until the tests' wall clock reads `at`.
    async fn until(&self, at: DateTime<Utc>) {
        let d = (at - self.fake.clock.now()).to_std().expect("ahead");
        tokio::time::sleep(d).await;
    }
}

#[tokio::test(start_paused = true)]
async fn ticks_come_due_in_order_each_a_claim_lead_ahead_of_its_time() {
    let h = Harness::start(|_| {});
    let a = task("* * * * * *", t0());
    let b = task("*/2 * * * * *", t0());
    h.assign(&a);
    h.assign(&b);
    h.until(second(4) + chrono::Duration::milliseconds(100))
        .await;
    assert_eq!(
        h.fake.ticks_of(a.id),
        vec![second(1), second(2), second(3), second(4)]
    );
    assert_eq!(h.fake.ticks_of(b.id), vec![second(2), second(4)]);
    let launched = h.fake.launched();
    for l in &launched {
        assert_eq!(l.status, RunStatus::Running, "{l:?}");
        assert_eq!(l.at, l.tick - chrono::Duration::milliseconds(500), "{l:?}");
    }
    assert!(
        launched.windows(2).all(|w| w[0].tick <= w[1].tick),
        "in time order"
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_changed_or_removed_while_waiting_for_its_tick_follows_the_change() {
    let h = Harness::start(|_| {});
    let changed = task("*/10 * * * * *", t0());
    let removed = task("*/10 * * * * *", t0());
    h.assign(&changed);
    h.assign(&removed);
    h.until(second(2)).await;
    let mut every_second = changed.clone();
    every_second.version = 2;
    every_second.spec.schedule = Schedule::parse("* * * * * *").unwrap();
    h.assign(&every_second);
    h.send(Command::Remove(removed.id));
    h.until(second(10) + chrono::Duration::milliseconds(100))
        .await;
    // The new schedule from the job's cursor: 00:01 and 00:02 (come due under it at once,
    // the older a misfire), then every second.
    assert_eq!(
        h.fake.ticks_of(changed.id),
        (1..=10).map(second).collect::<Vec<_>>()
    );
    let first = &h.fake.launched()[0];
    assert_eq!((first.tick, first.status), (second(1), RunStatus::Skipped));
    assert!(
        h.fake.ticks_of(removed.id).is_empty(),
        "a removed job's tick never comes"
    );
}

#[tokio::test(start_paused = true)]
async fn ticks_whose_rows_cannot_be_written_are_claimed_again_a_second_later() {
    let h = Harness::start(|s| s.failing_launches = 1);
    let a = task("* * * * * *", t0());
    h.assign(&a);
    h.until(second(2) + chrono::Duration::milliseconds(100))
        .await;
    let launched = h.fake.launched();
    let first: Vec<_> = launched.iter().filter(|l| l.tick == second(1)).collect();
    assert_eq!(first.len(), 2, "tried, then tried again: {launched:?}");
    assert_eq!(
        first[1].at - first[0].at,
        chrono::Duration::milliseconds(500),
        "due again a second later, claimed the claim lead ahead of that"
    );
    assert_eq!(
        first[1].status,
        RunStatus::Running,
        "still on time: it runs"
    );
    assert!(
        launched.iter().any(|l| l.tick == second(2)),
        "and the ticks after go on"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_adoption_read_is_retried_until_the_job_is_scheduled() {
    let h = Harness::start(|s| s.failing_reads = 3);
    let a = task("* * * * * *", t0());
    h.assign(&a);
    h.until(second(5) + chrono::Duration::milliseconds(100))
        .await;
    assert_eq!(
        h.fake.state.lock().unwrap().reads,
        4,
        "three failures, then a read that works"
    );
    let ticks = h.fake.ticks_of(a.id);
    assert!(ticks.contains(&second(5)), "scheduled once read: {ticks:?}");
}

#[tokio::test(start_paused = true)]
async fn missed_ticks_found_at_adoption_are_caught_up_once_and_the_rest_skipped_as_misfires() {
    let created = t0() - chrono::Duration::seconds(60);
    let a = task("* * * * * *", created);
    let last = second(-10);
    let h = Harness::start(|s| {
        s.last.insert(a.id, last);
    });
    h.assign(&a);
    h.until(second(1) - chrono::Duration::milliseconds(600))
        .await;
    let launched = h.fake.launched();
    let ticks: Vec<_> = launched.iter().map(|l| l.tick).collect();
    assert_eq!(
        ticks,
        (-9..=0).map(second).collect::<Vec<_>>(),
        "every missed tick accounted for once"
    );
    let (latest, earlier) = launched.split_last().unwrap();
    assert_eq!(latest.status, RunStatus::Running, "the latest catches up");
    for l in earlier {
        assert_eq!(l.status, RunStatus::Skipped, "{l:?}");
        assert_eq!(l.reason.as_deref(), Some(skip::MISFIRE));
    }
}

mod handoff;
